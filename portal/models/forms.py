"""Subscription forms, the requests to subscribe they (and the compatible endpoints) record, and a
client's settings for the compatible subscribe endpoints."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..tenancy import ClientScoped
from .base import AgencyColumn, ClientColumn, TZDateTime, utcnow

REQUEST_PENDING = "pending"  # double opt-in: waiting for the link in the confirmation email
REQUEST_CONFIRMED = "confirmed"  # the link was followed
REQUEST_DIRECT = "direct"  # single opt-in: subscribed at once, the consent text is the evidence
REQUEST_EXPIRED = "expired"  # never confirmed; its pending subscriptions were withdrawn

SOURCE_FORM = "form"
SOURCE_PLUGIN = "plugin"  # the compatible subscribe endpoints (portal/compat/)


class SubscribeForm(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    """A subscription form: which fields it asks, which lists it subscribes to, how consent is taken.

    `public_key` names the form in its public URLs (hosted page, submission); it is random so forms of
    one client cannot be enumerated from another's."""

    __tablename__ = "subscribe_form"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_key: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(200), default="")  # heading of the hosted page
    list_ids: Mapped[list] = mapped_column(JSON, default=list)
    # [{"key": "first_name", "required": false}, ...] in display order; email/phone come from channels.
    fields: Mapped[list] = mapped_column(JSON, default=list)
    channels: Mapped[list] = mapped_column(JSON, default=list)  # ["email"], ["sms"] or both
    double_opt_in: Mapped[bool] = mapped_column(Boolean, default=True)
    consent_text: Mapped[str] = mapped_column(Text, default="")
    success_message: Mapped[str] = mapped_column(Text, default="")
    redirect_url: Mapped[str] = mapped_column(String(500), default="")
    # One origin per line (https://shop.example.com): the sites that may embed the form and be
    # redirected to; the only origins the submission answers cross-origin (CORS).
    allowed_origins: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(5), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def origins(self) -> list[str]:
        return [o.strip() for o in (self.allowed_origins or "").splitlines() if o.strip()]


class SubscribeRequest(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    """One request to subscribe (a form submission or a compatible-endpoint call): the consent evidence
    (time, IP, form, the text shown) and, for double opt-in, the single-use confirmation link (its
    SHA-256 only). Until confirmed the subscriptions it made are `pending` and receive nothing."""

    __tablename__ = "subscribe_request"
    __table_args__ = (Index("ix_subscribe_request_status_expires", "status", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    form_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribe_form.id", ondelete="SET NULL"), nullable=True, index=True
    )
    source: Mapped[str] = mapped_column(String(16), default=SOURCE_FORM)
    list_ids: Mapped[list] = mapped_column(JSON, default=list)
    channels: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=REQUEST_PENDING)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    consent_text: Mapped[str] = mapped_column(Text, default="")
    locale: Mapped[str] = mapped_column(String(5), default="en")
    created_contact: Mapped[bool] = mapped_column(Boolean, default=False)  # this request made the contact
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    confirmed_ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class CompatAccess(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    """Whether the compatible subscribe endpoints answer for this client's lists, and from which caller
    IPs (empty: any). Off until the client turns it on (no row = off)."""

    __tablename__ = "compat_access"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("client.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    allowed_ips: Mapped[str] = mapped_column(Text, default="")  # one IP or CIDR network per line
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, onupdate=utcnow)
