"""Addresses and numbers that must not receive messages.

`Suppression` belongs to one client. `BlockedAddress` applies to every client of an agency, or — with
agency_id NULL — to the whole platform (abuse, legal); platform rows are invisible to the tenant filter and
read only by `services.suppression`, which takes the tenant as an argument."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..tenancy import AgencyScoped, ClientScoped
from .base import AgencyColumn, ClientColumn, TZDateTime, utcnow

REASONS = (
    "unsubscribe",
    "list_unsubscribe",
    "hard_bounce",
    "soft_bounce_limit",
    "complaint",
    "manual",
    "invalid",
)
# Removing these needs agency staff and a reason (they protect sender reputation).
PROTECTED_REASONS = ("hard_bounce", "complaint")


class Suppression(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    __tablename__ = "suppression"
    __table_args__ = (UniqueConstraint("client_id", "channel", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(254))  # normalised email or E.164 number
    reason: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(64), default="")  # import, form, api, manual, bounce, …
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, index=True)


class BlockedAddress(AgencyScoped, db.Model):
    __tablename__ = "blocked_address"
    __table_args__ = (
        Index("uq_blocked_address_scope", text("coalesce(agency_id, 0)"), "channel", "address", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("agency.id", ondelete="CASCADE"), nullable=True, index=True
    )
    channel: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(254))
    reason: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
