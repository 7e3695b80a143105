"""A delivery backend an agency sends through. Secrets are stored encrypted (see portal.crypto)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..tenancy import AgencyScoped
from .base import AgencyColumn, TZDateTime, utcnow

KIND_SMTP = "smtp"
KIND_MAILUP = "mailup"
KIND_SMS = "sms"
KINDS = (KIND_SMTP, KIND_MAILUP, KIND_SMS)


class Connection(AgencyColumn, AgencyScoped, db.Model):
    __tablename__ = "connection"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    options: Mapped[dict] = mapped_column(JSON, default=dict)  # non-secret settings (host, port, tls…)
    secrets_encrypted: Mapped[str] = mapped_column(Text, default="")  # Fernet token of a JSON object
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, onupdate=utcnow)
