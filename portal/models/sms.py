"""SMS: sender ids, the append-only credit ledger with its per-account balance rows, the price list per
destination country, inbound replies and the agency's opt-out keywords (issue 9)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..tenancy import AgencyScoped, ClientScoped
from .base import AgencyColumn, ClientColumn, TZDateTime, utcnow

SENDER_REQUESTED = "requested"
SENDER_APPROVED = "approved"
SENDER_REJECTED = "rejected"

# Ledger movements. Every entry has a positive amount; its kind says which balances it moves:
#   pool      = grant − allocate + revoke                          (agency row, client_id NULL)
#   available = opening + allocate − revoke − reserve + release     (client row)
#   reserved  = reserve − consume − release                         (client row)
ENTRY_GRANT = "grant"  # platform → agency pool
ENTRY_OPENING = "opening"  # a client's balance carried over from before the ledger, or seeded
ENTRY_ALLOCATE = "allocate"  # agency pool → client
ENTRY_REVOKE = "revoke"  # client → agency pool
ENTRY_RESERVE = "reserve"  # client available → reserved (a campaign starts)
ENTRY_CONSUME = "consume"  # reserved → spent (segments delivered, or sent where no report comes)
ENTRY_RELEASE = "release"  # reserved → available (failed, skipped, cancelled)
ENTRY_KINDS = (
    ENTRY_GRANT,
    ENTRY_OPENING,
    ENTRY_ALLOCATE,
    ENTRY_REVOKE,
    ENTRY_RESERVE,
    ENTRY_CONSUME,
    ENTRY_RELEASE,
)

DEFAULT_STOP_KEYWORDS = "STOP, ARRESTA, CANCELLAMI, STOPP, UNSUBSCRIBE, ANNULLA"


class SmsSenderId(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    """A sender id a client asked for (up to 11 alphanumerics, or a number); usable once the agency
    approved it."""

    __tablename__ = "sms_sender_id"
    __table_args__ = (UniqueConstraint("client_id", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=SENDER_REQUESTED)
    note: Mapped[str] = mapped_column(Text, default="")  # why it was rejected
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )
    decided_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class CreditAccount(AgencyColumn, ClientScoped, db.Model):
    """The balance row of one account: the agency's pool (client_id NULL) or one client. It is the
    materialised sum of the ledger, changed only together with an entry, by conditional updates that
    cannot take it below zero (portal/sms/credits.py); the CHECKs are the last line."""

    __tablename__ = "credit_account"
    __table_args__ = (
        UniqueConstraint("agency_id", "client_id"),
        CheckConstraint("available >= 0", name="available_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("client.id", ondelete="CASCADE"), nullable=True, index=True
    )
    available: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, onupdate=utcnow)


class CreditEntry(AgencyColumn, ClientScoped, db.Model):
    """One movement of the append-only ledger (never updated, never deleted)."""

    __tablename__ = "credit_entry"
    __table_args__ = (
        Index("ix_credit_entry_client_created", "client_id", "created_at"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("client.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Integer)
    campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)  # history outlives it
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), nullable=True)
    note: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class SmsPrice(AgencyColumn, AgencyScoped, db.Model):
    """Credits per segment for one destination country (ISO 3166 region, "*" for every other)."""

    __tablename__ = "sms_price"
    __table_args__ = (UniqueConstraint("agency_id", "country"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    credits_per_segment: Mapped[int] = mapped_column(Integer, default=1)


class SmsAgencySettings(AgencyColumn, AgencyScoped, db.Model):
    """Per agency: the reply keywords that mean "no more SMS" (comma-separated, matched whole)."""

    __tablename__ = "sms_agency_settings"
    __table_args__ = (UniqueConstraint("agency_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stop_keywords: Mapped[str] = mapped_column(Text, default=DEFAULT_STOP_KEYWORDS)


class SmsReply(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    """An inbound SMS from a recipient: an opt-out keyword (then suppressed for this client only) or a
    reply the client reads. Idempotent by (connection, provider id)."""

    __tablename__ = "sms_reply"
    __table_args__ = (UniqueConstraint("connection_id", "provider_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(Integer)
    provider_id: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    opt_out: Mapped[bool] = mapped_column(default=False)
    campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    received_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class SmsClientSettings(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    """Per client: optional quiet hours, in minutes after local midnight of each recipient's country
    (from > to wraps past midnight: 21:00–09:00). None: SMS go out at any hour."""

    __tablename__ = "sms_client_settings"
    __table_args__ = (UniqueConstraint("client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    quiet_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    quiet_to: Mapped[int | None] = mapped_column(Integer, nullable=True)
