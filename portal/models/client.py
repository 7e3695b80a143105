"""An agency's end customer account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..tenancy import AgencyScoped, ClientFiltered
from .base import AgencyColumn, TZDateTime, utcnow
from .sms import CreditAccount

CLIENT_ACTIVE = "active"
CLIENT_SUSPENDED = "suspended"


class Client(AgencyColumn, AgencyScoped, ClientFiltered, db.Model):
    __tablename__ = "client"
    __table_args__ = (UniqueConstraint("agency_id", "slug"),)
    # Inside a client context only the bound client itself is visible (see tenancy._apply_filter).
    __client_filter_column__ = "id"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(63))
    status: Mapped[str] = mapped_column(String(16), default=CLIENT_ACTIVE)
    email_quota_month: Mapped[int] = mapped_column(Integer, default=10000)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Rome")
    default_region: Mapped[str] = mapped_column(String(2), default="IT")
    # The delivery connection per channel (DESIGN.md §6); None: the agency's default, else the platform's.
    email_connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("connection.id", ondelete="SET NULL"), nullable=True
    )
    sms_connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("connection.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)

    @property
    def is_active(self) -> bool:
        return self.status == CLIENT_ACTIVE

    @property
    def sms_credits(self) -> int:
        """Available SMS credits: the client's balance row of the ledger (portal/sms/credits.py)."""
        available = db.session.scalar(
            select(CreditAccount.available).where(
                CreditAccount.agency_id == self.agency_id, CreditAccount.client_id == self.id
            )
        )
        return int(available or 0)
