"""Signing up: the one path by which a form submission or a compatible-endpoint call becomes a contact
with subscriptions — through the contact service's upsert and subscribe — plus the consent record, double
opt-in (pending until the emailed link is followed) and the expiry of what was never confirmed.

A pending subscription receives nothing (the consent rule reads only `subscribed`). The link carries a
random token of which only the SHA-256 is stored; it works once and expires after CONFIRM_TTL, after
which the sweep withdraws the pending subscriptions (and the contact, when the request created it and
nothing else holds it)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from ..extensions import db
from ..imports.addresses import InvalidAddress, normalise_email, normalise_phone
from ..models import Client, Contact, MailingList, SubscribeForm, SubscribeRequest, Subscription
from ..models.audience import CHANNEL_EMAIL, CHANNEL_SMS, SUB_SUBSCRIBED
from ..models.forms import REQUEST_CONFIRMED, REQUEST_DIRECT, REQUEST_EXPIRED, REQUEST_PENDING
from ..services import DomainError
from ..services import contacts as contact_svc
from ..services.i18n_safe import _
from ..tenancy import all_tenants, bind_tenant

CONFIRM_TTL = timedelta(days=3)
# A second submission of the same address within this gap sends no second email (no mail bombing
# of a victim's address through a public form); the first link still works.
RESEND_GAP = timedelta(minutes=10)


class SignUpInvalid(DomainError):
    """The address or a field value is not acceptable; `errors` maps input names to messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class SignUpRefused(DomainError):
    """The address may not be subscribed (suppressed, or the lists cannot carry its channel)."""


@dataclass
class SignUp:
    email: str = ""
    phone: str = ""
    values: dict[str, str] = field(default_factory=dict)  # field key -> raw text; empty = leave as is
    list_ids: list[int] = field(default_factory=list)
    channels: tuple[str, ...] = (CHANNEL_EMAIL,)
    double_opt_in: bool = True
    source: str = "form"
    form: SubscribeForm | None = None
    ip: str = ""
    user_agent: str = ""
    consent_text: str = ""
    locale: str = "en"


@dataclass
class SignUpResult:
    outcome: str  # "already" | "pending" | "subscribed"
    request: SubscribeRequest | None
    contact: Contact
    token: str | None = None  # the new confirmation token (only to build the emailed link)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_contact(client: Client, email: str, phone: str) -> Contact | None:
    """The stored contact with this (normalised) email, else this phone; InvalidAddress when bad."""
    if email.strip():
        found = db.session.scalar(
            select(Contact).where(Contact.client_id == client.id, Contact.email == normalise_email(email))
        )
        if found is not None:
            return found
    if phone.strip():
        number = normalise_phone(phone, client.default_region)
        return db.session.scalar(
            select(Contact).where(Contact.client_id == client.id, Contact.phone == number)
        )
    return None


def _upsert(client: Client, data: SignUp) -> tuple[Contact, bool]:
    try:
        existing = find_contact(client, data.email, data.phone)
    except InvalidAddress as exc:
        key = "email" if data.email.strip() and not _valid_email(data.email) else "phone"
        raise SignUpInvalid({key: str(exc)}) from exc
    values = {k: v for k, v in data.values.items() if v.strip()}
    payload = contact_svc.ContactInput(
        email=data.email.strip() or (existing.email if existing else "") or "",
        phone=data.phone.strip() or (existing.phone if existing else "") or "",
        values=values,
    )
    try:
        contact = contact_svc.save_contact(actor=None, client=client, data=payload, contact=existing)
    except contact_svc.ContactInvalid as exc:
        raise SignUpInvalid(exc.errors) from exc
    return contact, existing is None


def _valid_email(raw: str) -> bool:
    try:
        normalise_email(raw)
    except InvalidAddress:
        return False
    return True


def _wanted(lists: list[MailingList], contact: Contact, channels: tuple[str, ...]) -> set[tuple[int, str]]:
    """(list, channel) pairs this sign-up asks for: a channel the list carries and the contact has."""
    pairs = set()
    for lst in lists:
        if CHANNEL_EMAIL in channels and lst.email_enabled and contact.email:
            pairs.add((lst.id, CHANNEL_EMAIL))
        if CHANNEL_SMS in channels and lst.sms_enabled and contact.phone:
            pairs.add((lst.id, CHANNEL_SMS))
    return pairs


def subscribed_pairs(contact: Contact, list_ids) -> set[tuple[int, str]]:
    rows = db.session.execute(
        select(Subscription.list_id, Subscription.channel).where(
            Subscription.contact_id == contact.id,
            Subscription.list_id.in_(list(list_ids)),
            Subscription.status == SUB_SUBSCRIBED,
        )
    ).all()
    return {(lid, ch) for lid, ch in rows}


def sign_up(client: Client, data: SignUp) -> SignUpResult:
    """Upsert the contact, subscribe it, record the consent. Under double opt-in with an email address
    every subscription of the request (SMS too) stays pending until the emailed link is followed; with no
    email address there is no link to send, and an SMS-only sign-up is subscribed at once on the strength
    of its consent text. Raises SignUpInvalid / SignUpRefused; flushes only."""
    lists = list(db.session.scalars(select(MailingList).where(MailingList.id.in_(data.list_ids))))
    if len(lists) != len(set(data.list_ids)):
        raise SignUpRefused(_("Unknown list."))
    contact, created = _upsert(client, data)
    wanted = _wanted(lists, contact, data.channels)
    if not wanted:
        raise SignUpRefused(_("These lists do not carry the channel of this address."))
    if wanted <= subscribed_pairs(contact, data.list_ids):
        return SignUpResult("already", None, contact)
    pending_email = data.double_opt_in and any(ch == CHANNEL_EMAIL for _lid, ch in wanted)
    changed: list[tuple[int, str]] = []
    try:
        if any(ch == CHANNEL_SMS for _lid, ch in wanted):
            changed += contact_svc.subscribe(
                actor=None,
                client=client,
                contact=contact,
                list_ids=[lid for lid, ch in wanted if ch == CHANNEL_SMS],
                ip=data.ip,
                only_channels=(CHANNEL_SMS,),
                pending=pending_email,
                source=data.source,
            )
        if any(ch == CHANNEL_EMAIL for _lid, ch in wanted):
            changed += contact_svc.subscribe(
                actor=None,
                client=client,
                contact=contact,
                list_ids=[lid for lid, ch in wanted if ch == CHANNEL_EMAIL],
                ip=data.ip,
                only_channels=(CHANNEL_EMAIL,),
                pending=pending_email,
                source=data.source,
            )
    except DomainError as exc:
        raise SignUpRefused(str(exc)) from exc
    request = SubscribeRequest(
        agency_id=client.agency_id,
        client_id=client.id,
        contact_id=contact.id,
        form_id=data.form.id if data.form is not None else None,
        source=data.source,
        list_ids=sorted({lid for lid, _ch in wanted}),
        channels=sorted({ch for _lid, ch in wanted}),
        ip=data.ip[:64],
        user_agent=data.user_agent[:255],
        consent_text=data.consent_text,
        locale=data.locale,
        created_contact=created,
    )
    if not pending_email:
        request.status, request.confirmed_at = REQUEST_DIRECT, datetime.now(UTC)
        db.session.add(request)
        db.session.flush()
        return SignUpResult("subscribed", request, contact)
    if not changed and _recently_asked(contact, request.list_ids):
        return SignUpResult("pending", None, contact)  # the link sent a moment ago still works
    token = secrets.token_urlsafe(32)
    request.status = REQUEST_PENDING
    request.token_hash = _hash(token)
    request.expires_at = datetime.now(UTC) + CONFIRM_TTL
    db.session.add(request)
    db.session.flush()
    return SignUpResult("pending", request, contact, token)


def _recently_asked(contact: Contact, list_ids: list[int]) -> bool:
    since = datetime.now(UTC) - RESEND_GAP
    recent = db.session.scalars(
        select(SubscribeRequest).where(
            SubscribeRequest.contact_id == contact.id,
            SubscribeRequest.status == REQUEST_PENDING,
            SubscribeRequest.created_at >= since,
        )
    )
    return any(set(list_ids) <= set(r.list_ids or []) for r in recent)


# --- confirmation ---------------------------------------------------------------------------------------


@dataclass
class Confirmation:
    outcome: str  # "confirmed" | "already" | "expired" | "refused"
    request: SubscribeRequest
    message: str = ""


def find_request(agency_id: int, token: str) -> SubscribeRequest | None:
    """The request of a confirmation token, within the host's agency only (another agency's token on
    this host is unknown)."""
    if not token or len(token) > 100:
        return None
    with bind_tenant(agency_id):
        return db.session.scalar(
            select(SubscribeRequest).where(
                SubscribeRequest.token_hash == _hash(token), SubscribeRequest.agency_id == agency_id
            )
        )


def is_expired(request: SubscribeRequest, now: datetime | None = None) -> bool:
    now = now or datetime.now(UTC)
    return request.status == REQUEST_EXPIRED or (request.expires_at is not None and request.expires_at < now)


def confirm(client: Client, request: SubscribeRequest, ip: str) -> Confirmation:
    """Follow the link: the request's pending subscriptions become subscribed, the consent time and IP
    are those of the confirmation. Works once; an expired link changes nothing."""
    if request.status == REQUEST_CONFIRMED:
        return Confirmation("already", request)
    now = datetime.now(UTC)
    if request.status != REQUEST_PENDING or is_expired(request, now):
        return Confirmation("expired", request)
    contact = db.session.scalar(select(Contact).where(Contact.id == request.contact_id))
    try:
        contact_svc.subscribe(
            actor=None,
            client=client,
            contact=contact,
            list_ids=request.list_ids,
            ip=ip,
            only_channels=tuple(request.channels),
            source=request.source,
        )
    except DomainError as exc:
        return Confirmation("refused", request, str(exc))
    request.status, request.confirmed_at, request.confirmed_ip = REQUEST_CONFIRMED, now, ip[:64]
    db.session.flush()
    return Confirmation("confirmed", request)


# --- expiry ---------------------------------------------------------------------------------------------

EXPIRE_BATCH = 500


def expire_pending(now: datetime | None = None) -> int:
    """Every client's unconfirmed requests past their expiry: withdraw their pending subscriptions, and
    the contact too when the request created it and nothing else holds it. Returns how many expired."""
    now = now or datetime.now(UTC)
    with all_tenants():
        due = db.session.execute(
            select(SubscribeRequest.id, SubscribeRequest.agency_id, SubscribeRequest.client_id)
            .where(SubscribeRequest.status == REQUEST_PENDING, SubscribeRequest.expires_at < now)
            .order_by(SubscribeRequest.id)
            .limit(EXPIRE_BATCH)
        ).all()
    for request_id, agency_id, client_id in due:
        with bind_tenant(agency_id, client_id):
            _expire_one(request_id)
    db.session.flush()
    return len(due)


def _expire_one(request_id: int) -> None:
    request = db.session.scalar(select(SubscribeRequest).where(SubscribeRequest.id == request_id))
    client = db.session.scalar(select(Client).where(Client.id == request.client_id))
    contact = db.session.scalar(select(Contact).where(Contact.id == request.contact_id))
    request.status = REQUEST_EXPIRED
    contact_svc.withdraw_pending(
        client=client, contact=contact, list_ids=request.list_ids, channels=request.channels
    )
    if request.created_contact and not _still_held(contact, request):
        contact_svc.delete_contact(actor=None, client=client, contact=contact)  # takes the request along
    db.session.flush()


def _still_held(contact: Contact, request: SubscribeRequest) -> bool:
    subs = db.session.scalar(select(func.count(Subscription.id)).where(Subscription.contact_id == contact.id))
    waiting = db.session.scalar(
        select(func.count(SubscribeRequest.id)).where(
            SubscribeRequest.contact_id == contact.id,
            SubscribeRequest.status == REQUEST_PENDING,
            SubscribeRequest.id != request.id,
        )
    )
    return bool(subs or waiting)
