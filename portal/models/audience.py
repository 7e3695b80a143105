"""A client's audience: lists, custom fields, contacts, per-list subscriptions, segments."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..tenancy import ClientScoped
from .base import AgencyColumn, ClientColumn, TZDateTime, utcnow

CHANNEL_EMAIL = "email"
CHANNEL_SMS = "sms"
CHANNELS = (CHANNEL_EMAIL, CHANNEL_SMS)

SUB_SUBSCRIBED = "subscribed"
SUB_UNSUBSCRIBED = "unsubscribed"
SUB_PENDING = "pending"
SUB_BOUNCED = "bounced"
SUB_COMPLAINED = "complained"
SUB_STATUSES = (SUB_SUBSCRIBED, SUB_UNSUBSCRIBED, SUB_PENDING, SUB_BOUNCED, SUB_COMPLAINED)

FIELD_KINDS = ("text", "number", "date", "boolean", "choice")
MAX_FIELDS = 39  # maps one-to-one onto MailUp's personal fields 1..39


class MailingList(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    __tablename__ = "mailing_list"
    __table_args__ = (UniqueConstraint("client_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The id and this GUID are what plugins of the previous provider's subscribe API send (List,
    # ListGuid; portal/compat/). The id is the primary key, so unique across the platform.
    guid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    public_name: Mapped[str] = mapped_column(String(120), default="")  # shown on subscription forms
    default_sender_name: Mapped[str] = mapped_column(String(120), default="")
    default_sender_email: Mapped[str] = mapped_column(String(254), default="")
    double_opt_in: Mapped[bool] = mapped_column(Boolean, default=True)
    email_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    sms_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Subscribed contacts per channel, kept up to date by the statements that change subscriptions.
    email_subscribed_count: Mapped[int] = mapped_column(Integer, default=0)
    sms_subscribed_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class Field(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    """A custom contact field. `number` (1..39) is stable for the field's life: exports, the MailUp-style
    CSV header convention and provider sync refer to it."""

    __tablename__ = "field"
    __table_args__ = (UniqueConstraint("client_id", "number"), UniqueConstraint("client_id", "key"))

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(40))  # merge-tag name: first_name
    label: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16), default="text")
    choices: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class Contact(ClientScoped, db.Model):
    """Email and/or E.164 phone plus typed custom values keyed by field key.

    High-volume table (millions of rows per client, filled by set-based imports), so every foreign-key
    check and index is paid once per imported row (benchmarks/import_bench.py: on PostgreSQL each foreign
    key costs about 4 µs per row, a sixth of the whole import). The tenant columns carry no foreign key:
    clients are suspended, never deleted, and every writer takes client_id from the bound tenant (ORM
    stamping) or from the client it verified (imports). client_id is indexed through the (client_id, …)
    indexes; agency_id has no index, since every query on contacts names the client."""

    __tablename__ = "contact"
    __table_args__ = (
        UniqueConstraint("client_id", "email"),
        # Most contacts have no number: a partial index holds only those that do.
        Index(
            "uq_contact_client_phone",
            "client_id",
            "phone",
            unique=True,
            sqlite_where=text("phone IS NOT NULL"),
            postgresql_where=text("phone IS NOT NULL"),
        ),
        Index("ix_contact_client_created", "client_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(Integer, nullable=False)  # queries always name the client too
    client_id: Mapped[int] = mapped_column(Integer, nullable=False)  # no foreign key: see the docstring
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, onupdate=utcnow)


class Subscription(ClientScoped, db.Model):
    """High-volume like Contact. The contact foreign key cascades (deleting a contact takes its
    subscriptions). The list has none, for the import's sake: deleting a list deletes its subscriptions
    explicitly after the list row (services/lists.py), and an import locks its target lists first
    (imports/stage.py), so neither can leave subscriptions of a deleted list behind."""

    __tablename__ = "subscription"
    __table_args__ = (
        # contact_id first: the same index answers "this contact's subscriptions" (contact page, cascades).
        UniqueConstraint("contact_id", "list_id", "channel"),
        Index("ix_subscription_list_status", "list_id", "channel", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(Integer, nullable=False)  # queries always name the client too
    client_id: Mapped[int] = mapped_column(Integer, nullable=False)
    list_id: Mapped[int] = mapped_column(Integer)  # no foreign key: see the docstring
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8), default=CHANNEL_EMAIL)
    status: Mapped[str] = mapped_column(String(16), default=SUB_SUBSCRIBED)
    consent_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    consent_ip: Mapped[str] = mapped_column(String(64), default="")
    consent_source: Mapped[str] = mapped_column(String(16), default="manual")  # import/form/api/manual
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, onupdate=utcnow)


class Segment(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    """Rules evaluated in SQL: {"match": "all"|"any", "conditions": [{"type": ..., ...}]}."""

    __tablename__ = "segment"
    __table_args__ = (UniqueConstraint("client_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    rules: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
