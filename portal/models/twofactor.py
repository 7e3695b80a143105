"""The second factor of a user: a confirmed TOTP credential and its single-use recovery codes.

A credential row exists only once enrolment was confirmed with a code; the secret is a Fernet token
(portal/crypto.py), never the plain base32 string. `last_step` is the RFC 6238 time step of the last code
accepted, so a code seen once cannot be replayed inside its 30-second window. `agency_id` is NULL for
platform administrators, as on their `user` row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..tenancy import AgencyScoped
from .base import TZDateTime, utcnow
from .user import User


class TotpCredential(AgencyScoped, db.Model):
    __tablename__ = "totp_credential"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("agency.id", ondelete="CASCADE"), nullable=True, index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), unique=True)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="totp")


class RecoveryCode(AgencyScoped, db.Model):
    """One of the ten codes shown once at enrolment; argon2-hashed (portal/passwords.py), used at most once."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("agency.id", ondelete="CASCADE"), nullable=True, index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
