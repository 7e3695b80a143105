"""Web services (issue 10): API keys, idempotency records, the subscription-change journal that feeds the
events feed, outbound webhook endpoints and their deliveries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import FetchedValue

from ..extensions import db
from ..tenancy import ClientScoped
from . import feed_ddl
from .base import AgencyColumn, ClientColumn, TZDateTime, utcnow

SCOPES = ("read", "write", "send")


class ApiKey(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    """A client's key. Only a SHA-256 of the secret is kept (the secret has 256 random bits, so a slow
    hash buys nothing); `prefix` is the public part used to find the row and to show the key in lists."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    rate_limit_per_minute: Mapped[int] = mapped_column(Integer, default=120)
    expires_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    last_used_ip: Mapped[str] = mapped_column(String(64), default="")
    seen_ips: Mapped[list] = mapped_column(JSON, default=list)  # "first use from a new IP" is audited
    revoked_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class IdempotencyRecord(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    """The answer given to one `Idempotency-Key` of a client (kept 24 hours)."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("client_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer, default=0)  # 0: the first request is still running
    response_body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, index=True)


class SubscriptionChange(ClientScoped, db.Model):
    """One change of a subscription's status, written by database triggers on `subscription` (see
    portal/feed_ddl.py), so every path — UI, API, imports, unsubscribe pages, bounces — is journalled
    without each one remembering to. Subscriptions created by an import are not journalled: the system
    that sent the file knows them already, and a million-row import stays a set-based import.

    `txid` is the writing transaction's id on PostgreSQL (a server default): the feed serves only rows of
    transactions older than every transaction still running, so a cursor never skips a row that commits
    late (portal/feed.py). High-volume: no foreign keys, one index for the feed."""

    __tablename__ = "subscription_change"
    __table_args__ = (Index("ix_subscription_change_feed", "client_id", "txid", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(Integer, nullable=False)
    client_id: Mapped[int] = mapped_column(Integer, nullable=False)
    contact_id: Mapped[int] = mapped_column(Integer)
    list_id: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16), default="")
    txid: Mapped[int | None] = mapped_column(BigInteger, nullable=True, server_default=FetchedValue())
    changed_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


WEBHOOK_EVENTS = (
    "subscribe",
    "unsubscribe",
    "bounce",
    "complaint",
    "delivered",
    "open",
    "click",
    "sms_delivery",
    "import_finished",
    "campaign_finished",
)


class Webhook(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    """An endpoint of the client. Secrets are Fernet-encrypted (they must be read to sign); during a
    rotation the previous secret signs too until `previous_secret_until`."""

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    events: Mapped[list] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str] = mapped_column(Text, default="")
    secret: Mapped[str] = mapped_column(Text)
    previous_secret: Mapped[str] = mapped_column(Text, default="")
    previous_secret_until: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    # Where the dispatcher stopped reading the events feed for this endpoint (portal/feed.py cursor).
    feed_cursor: Mapped[str] = mapped_column(String(200), default="")
    failing_since: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


DELIVERY_PENDING = "pending"
DELIVERY_SUCCEEDED = "succeeded"
DELIVERY_FAILED = "failed"  # every retry used, or the endpoint was disabled


class WebhookDelivery(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    """One message to one endpoint. `message_id` is the `webhook-id` header: the same on every retry and
    replay, so receivers can de-duplicate."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("webhook_id", "message_id"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=DELIVERY_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempt_log: Mapped[list] = mapped_column(JSON, default=list)  # [{at, code, ms, error}], newest last
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)


feed_ddl.install(db.metadata)
