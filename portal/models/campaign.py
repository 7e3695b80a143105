"""Email campaigns: sender domains and identities, campaigns, one Delivery per recipient, events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import FetchedValue

from ..extensions import db
from ..tenancy import ClientScoped
from .base import AgencyColumn, ClientColumn, TZDateTime, utcnow

CAMPAIGN_DRAFT = "draft"
CAMPAIGN_SCHEDULED = "scheduled"
CAMPAIGN_SENDING = "sending"
CAMPAIGN_PAUSED = "paused"
CAMPAIGN_SENT = "sent"
CAMPAIGN_CANCELLED = "cancelled"
CAMPAIGN_FAILED = "failed"
EDITABLE = (CAMPAIGN_DRAFT, CAMPAIGN_SCHEDULED)

DELIVERY_PENDING = "pending"
DELIVERY_CLAIMED = "claimed"
DELIVERY_SENT = "sent"
DELIVERY_FAILED = "failed"
DELIVERY_SKIPPED = "skipped"  # suppressed or unsubscribed between materialisation and sending

EVENT_KINDS = ("delivered", "open", "click", "bounce", "complaint", "unsubscribe")


class SenderDomain(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    """A domain a client sends from. The portal generates its DKIM key; the client publishes the records."""

    __tablename__ = "sender_domain"
    __table_args__ = (UniqueConstraint("client_id", "domain"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(253))
    verification_token: Mapped[str] = mapped_column(String(64))
    dkim_selector: Mapped[str] = mapped_column(String(63))
    dkim_private_key: Mapped[str] = mapped_column(Text)  # Fernet-encrypted PEM (portal.crypto)
    dkim_public_key: Mapped[str] = mapped_column(Text)  # base64 DER for the p= tag
    verified_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    last_check_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    last_check: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class SenderIdentity(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    __tablename__ = "sender_identity"
    __table_args__ = (UniqueConstraint("client_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("sender_domain.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    reply_to: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class Campaign(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), default="email")
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=CAMPAIGN_DRAFT, index=True)
    subject: Mapped[str] = mapped_column(String(255), default="")
    preheader: Mapped[str] = mapped_column(String(255), default="")
    sender_id: Mapped[int | None] = mapped_column(
        ForeignKey("sender_identity.id", ondelete="SET NULL"), nullable=True
    )
    reply_to: Mapped[str] = mapped_column(String(254), default="")
    html: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    text_edited: Mapped[bool] = mapped_column(Boolean, default=False)  # False: regenerate text from HTML
    # {"lists": [ids], "segments": [ids], "exclude_lists": [ids], "exclude_segments": [ids]}
    audience: Mapped[dict] = mapped_column(JSON, default=dict)
    track_opens: Mapped[bool] = mapped_column(Boolean, default=True)
    track_clicks: Mapped[bool] = mapped_column(Boolean, default=True)
    scheduled_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True, index=True)
    started_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    recipients: Mapped[int] = mapped_column(Integer, default=0)  # deliveries materialised at send start
    links: Mapped[list] = mapped_column(JSON, default=list)  # tracked URLs, index = link id in click URLs
    message: Mapped[str] = mapped_column(Text, default="")  # why it failed or paused
    # SMS campaigns: the approved sender id (portal/sms/senders.py); the text is `text`.
    sms_sender_id: Mapped[int | None] = mapped_column(
        ForeignKey("sms_sender_id.id", ondelete="SET NULL"), nullable=True
    )
    # The connection the send was started on (None: the platform's relay): a client re-bound mid-send
    # does not switch backends under a running campaign.
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("connection.id", ondelete="SET NULL"), nullable=True
    )
    # What a provider-side backend finished and the ids it got (group, message, sending), step by step.
    provider_state: Mapped[dict] = mapped_column(JSON, default=dict)
    # Held by the provider-side send job while it works (renewed after each step): the sweeper queues a
    # new job only for a sending campaign whose lease is absent or expired (nobody works on it).
    provider_lease_until: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    # Circuit breaker: consecutive backend-level failures, and when the next attempt may start.
    backend_failures: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, onupdate=utcnow)


class Delivery(ClientScoped, db.Model):
    """One recipient of one campaign. The database is the source of truth for exactly-once sending: a row is
    claimed with a lease, and marked sent only after the backend accepted the message."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id"),
        Index("ix_delivery_campaign_status", "campaign_id", "status"),
        # Sent volume per client and period (agency reports, quotas) without reading every delivery.
        Index("ix_delivery_client_sent", "client_id", "sent_at"),
        # Delivery reports name the gateway's message id.
        Index("ix_delivery_provider_message_id", "provider_message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    client_id: Mapped[int] = mapped_column(Integer, nullable=False)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(Integer, index=True)  # no FK: the history outlives the contact
    channel: Mapped[str] = mapped_column(String(8), default="email")
    address: Mapped[str] = mapped_column(String(254))  # the email address, or the E.164 phone number
    status: Mapped[str] = mapped_column(String(16), default=DELIVERY_PENDING)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # hand-overs actually tried
    retry_after: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)  # deferred (4xx)
    sent_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    provider_message_id: Mapped[str] = mapped_column(String(255), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    # SMS: segments of this recipient's own text and the credits reserved for it; credit_state moves
    # once, conditionally, from "reserved" to "consumed" or "released" (portal/sms/settle.py).
    segments: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    credits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    credit_state: Mapped[str] = mapped_column(String(8), default="", server_default="")


class Event(ClientScoped, db.Model):
    """What happened to a delivery. Idempotent by (client, source, provider_event_id): the same report
    pulled or received twice is one row."""

    __tablename__ = "event"
    __table_args__ = (
        UniqueConstraint("client_id", "source", "provider_event_id"),
        Index("ix_event_campaign_kind", "campaign_id", "kind", "created_at"),
        # The events feed reads a client's events in (txid, id) order (portal/feed.py).
        Index("ix_event_feed", "client_id", "txid", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    client_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), nullable=True
    )
    delivery_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    contact_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(8), default="email")
    # Who reported it: "smtp" (the relay's answer), "inbound" (DSN/ARF mail), "portal" (our own pages),
    # or a provider-side backend ("email-api", "sms-gateway").
    source: Mapped[str] = mapped_column(String(16), default="portal")
    bounce_class: Mapped[str] = mapped_column(String(8), default="")  # hard / soft / policy
    status_code: Mapped[str] = mapped_column(String(16), default="")
    detail: Mapped[str] = mapped_column(Text, default="")  # clicked URL, diagnostic text, feedback type
    link_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    provider_event_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    # PostgreSQL: the writing transaction's id (a server default, models/feed_ddl.py); the events feed
    # serves a row only once every older transaction has ended, so its cursor never skips a late commit.
    txid: Mapped[int | None] = mapped_column(BigInteger, nullable=True, server_default=FetchedValue())


class ImageAsset(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    """An image in the client's library, served from the agency domain for use in campaigns."""

    __tablename__ = "image_asset"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)  # unguessable public name
    name: Mapped[str] = mapped_column(String(200))
    mime: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
