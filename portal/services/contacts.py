"""Contacts of a client: search and keyset paging that stay fast at a million rows, the contact page,
manual create/edit with typed field values, list subscriptions, delete.

Paging is keyset on Contact.id (the (client_id, id) index): a deep page costs what the first one costs.
Email prefixes are searched as a range on the (client_id, email) unique index — addresses are stored
lower-cased, so `email >= 'abc' AND email < 'abd'` is exact and index-friendly on SQLite (whose LIKE is
case-insensitive and skips the index) and on PostgreSQL (whose LIKE needs a pattern index unless the
database collation is C).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import phonenumbers
from sqlalchemy import ColumnElement, and_, delete, false, func, or_, select, text

from ..extensions import db
from ..imports.addresses import InvalidAddress, normalise_email, normalise_phone
from ..imports.values import FieldSpec, FieldValueError, convert
from ..list_counts import adjust as adjust_counts
from ..models import Client, Contact, Field, MailingList, Segment, Subscription, Suppression, User
from ..models.audience import (
    CHANNEL_EMAIL,
    CHANNEL_SMS,
    SUB_PENDING,
    SUB_STATUSES,
    SUB_SUBSCRIBED,
    SUB_UNSUBSCRIBED,
)
from . import DomainError, NotFound
from . import fields as field_service
from .audit import record
from .i18n_safe import _
from .suppression import suppression_reason

PAGE_SIZE = 50
COUNT_CAP = 10_000
_PHONEISH = re.compile(r"^[+\d][\d\s().-]*$")


# --- dialect helpers ---------------------------------------------------------------------------------


def spec_of(f: Field) -> FieldSpec:
    return FieldSpec(key=f.key, label=f.label, kind=f.kind, choices=tuple(f.choices or ()))


def field_value(key: str, kind: str = "text") -> ColumnElement:
    """The stored value of a custom field as a typed SQL expression, for both dialects.

    SQLite renders JSON_EXTRACT(contact.fields, '$."key"') (which returns numbers as numbers, booleans
    as 1/0); PostgreSQL renders contact.fields ->> 'key' with a cast for numbers and booleans. The key
    is a bound parameter either way."""
    element = Contact.fields[key]
    if kind == "number":
        return element.as_float()
    if kind == "boolean":
        return element.as_boolean()
    return element.as_string()


def remove_field_values(client: Client, key: str) -> None:
    """Drop one key from every contact's JSON of this client, set-based."""
    if db.engine.dialect.name == "postgresql":
        sql = (
            "UPDATE contact SET fields = (fields::jsonb - :key)::json "
            "WHERE client_id = :cid AND (fields::jsonb) ? :key"
        )
        params = {"key": key, "cid": client.id}
    else:
        sql = (
            "UPDATE contact SET fields = json_remove(fields, :path) "
            "WHERE client_id = :cid AND json_type(fields, :path) IS NOT NULL"
        )
        params = {"path": f'$."{key}"', "cid": client.id}
    db.session.execute(text(sql), params)


def _prefix(column, prefix: str) -> ColumnElement:
    """Exact, index-friendly prefix match on a column stored in a known case (code-point order)."""
    last = ord(prefix[-1])
    like = column.startswith(prefix, autoescape=True)
    if last >= 0x10FFFF:
        return like
    in_range = and_(column >= prefix, column < prefix[:-1] + chr(last + 1))
    if db.engine.dialect.name != "postgresql":
        return in_range  # SQLite compares text byte-wise (BINARY): the range is exact
    # A PostgreSQL database may use a linguistic collation, which ignores punctuation at first level: the
    # range then only narrows the index scan and LIKE decides; a trailing punctuation mark could make the
    # range drop true matches, so such prefixes use LIKE alone.
    return and_(in_range, like) if prefix[-1].isalnum() else like


# --- search and paging -------------------------------------------------------------------------------


@dataclass
class ContactFilter:
    q: str = ""  # an email (prefix) or a phone number (prefix)
    field_key: str = ""
    field_value: str = ""
    list_id: int | None = None
    status: str = ""

    @property
    def active(self) -> bool:
        return bool(
            self.q.strip() or (self.field_key and self.field_value.strip()) or self.list_id or self.status
        )


@dataclass
class ContactPage:
    items: list[Contact]
    total: int | None
    total_capped: bool  # True: there are more than `total` (COUNT_CAP) matches
    next_after: int | None
    prev_before: int | None
    filter: ContactFilter = field(default_factory=ContactFilter)


def search_conditions(client: Client, flt: ContactFilter) -> list[ColumnElement]:
    """WHERE clauses for a filter; raises DomainError for a field or value that cannot be searched."""
    where: list[ColumnElement] = [Contact.client_id == client.id]
    q = flt.q.strip()
    if q:
        where.append(_phone_condition(client, q) if _PHONEISH.match(q) else _email_condition(q))
    if flt.field_key and flt.field_value.strip():
        f = db.session.scalar(select(Field).where(Field.key == flt.field_key))
        if f is None:
            raise DomainError(_("Unknown field."))
        try:
            value = convert(spec_of(f), flt.field_value.strip())
        except FieldValueError as exc:
            raise DomainError(f"{f.label}: {exc}") from exc
        where.append(field_equals(f, value))
    if flt.list_id or flt.status:
        if flt.status and flt.status not in SUB_STATUSES:
            raise DomainError(_("Unknown subscription status."))
        sub = select(Subscription.contact_id).where(Subscription.client_id == client.id)
        if flt.list_id:
            sub = sub.where(Subscription.list_id == flt.list_id)
        if flt.status:
            sub = sub.where(Subscription.status == flt.status)
        where.append(Contact.id.in_(sub))
    return where


def field_equals(f: Field, value) -> ColumnElement:
    if f.kind == "text":
        return func.lower(field_value(f.key, "text")) == str(value).lower()
    return field_value(f.key, f.kind) == value


def _email_condition(q: str) -> ColumnElement:
    lowered = q.lower()
    if "@" in lowered:
        try:
            return Contact.email == normalise_email(lowered)
        except InvalidAddress:
            pass
    return _prefix(Contact.email, lowered)


def _phone_condition(client: Client, q: str) -> ColumnElement:
    try:
        return Contact.phone == normalise_phone(q, client.default_region)
    except InvalidAddress:
        pass
    digits = re.sub(r"\D", "", q)
    if not digits:
        return false()
    if q.startswith("00"):
        digits = digits[2:]
    elif not q.startswith("+"):
        code = phonenumbers.country_code_for_region((client.default_region or "").upper())
        digits = f"{code}{digits}" if code else digits
    return _prefix(Contact.phone, "+" + digits)


def contacts_page(
    client: Client,
    flt: ContactFilter,
    after: int | None = None,
    before: int | None = None,
    size: int = PAGE_SIZE,
) -> ContactPage:
    """Newest first, keyset on id: `after` = the last id of the page before, `before` = the first id of
    the page after."""
    where = search_conditions(client, flt)
    query = select(Contact).where(*where)
    if before is not None:
        rows = list(
            db.session.scalars(query.where(Contact.id > before).order_by(Contact.id.asc()).limit(size + 1))
        )
        more_newer = len(rows) > size
        items = list(reversed(rows[:size]))
        next_after = items[-1].id if items else None
        prev_before = items[0].id if items and more_newer else None
    else:
        if after is not None:
            query = query.where(Contact.id < after)
        rows = list(db.session.scalars(query.order_by(Contact.id.desc()).limit(size + 1)))
        items = rows[:size]
        next_after = items[-1].id if len(rows) > size else None
        prev_before = items[0].id if items and after is not None else None
    if flt.active and after is None and before is None and len(rows) <= size:
        total, capped = len(items), False  # the whole result is on this page: no second scan
    else:
        total, capped = count_contacts(client, where if flt.active else None)
    return ContactPage(items, total, capped, next_after, prev_before, flt)


def count_contacts(client: Client, where: list[ColumnElement] | None = None) -> tuple[int, bool]:
    """(count, capped). Without a filter: the exact COUNT on the (client_id, id) index (about 250 ms for
    1M contacts on SQLite, see benchmarks/contacts_page_bench.py). With a filter, counting stops at
    COUNT_CAP: a search over unindexed field values or a big list must not scan a million rows twice."""
    if where is None:
        query = select(func.count(Contact.id)).where(Contact.client_id == client.id)
        return int(db.session.scalar(query) or 0), False
    limited = select(Contact.id).where(*where).limit(COUNT_CAP + 1).subquery()
    n = int(db.session.scalar(select(func.count()).select_from(limited)) or 0)
    return min(n, COUNT_CAP), n > COUNT_CAP


# --- one contact -------------------------------------------------------------------------------------


def get_contact(contact_id: int) -> Contact:
    contact = db.session.scalar(select(Contact).where(Contact.id == contact_id))
    if contact is None:
        raise NotFound("contact")
    return contact


@dataclass
class SubscriptionRow:
    subscription: Subscription
    list_name: str


def subscriptions_of(client: Client, contact: Contact) -> list[SubscriptionRow]:
    rows = db.session.execute(
        select(Subscription, MailingList.name)
        .join(MailingList, MailingList.id == Subscription.list_id)
        .where(Subscription.client_id == client.id, Subscription.contact_id == contact.id)
        .order_by(MailingList.name, Subscription.channel)
    ).all()
    return [SubscriptionRow(s, name) for s, name in rows]


def suppressions_of(client: Client, contact: Contact) -> list[Suppression]:
    pairs = [(CHANNEL_EMAIL, contact.email), (CHANNEL_SMS, contact.phone)]
    conds = [and_(Suppression.channel == ch, Suppression.address == a) for ch, a in pairs if a]
    if not conds:
        return []
    return list(
        db.session.scalars(select(Suppression).where(Suppression.client_id == client.id, or_(*conds)))
    )


class ContactInvalid(DomainError):
    """Field-level errors: {"email": "...", "phone": "...", "field:<key>": "..."}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass
class ContactInput:
    email: str = ""
    phone: str = ""
    values: dict[str, str] = field(default_factory=dict)  # field key -> raw text ("" removes the value)
    list_ids: list[int] = field(default_factory=list)
    ip: str = ""


def _clean(
    client: Client, data: ContactInput, current: Contact | None
) -> tuple[str | None, str | None, dict]:
    errors: dict[str, str] = {}
    email = phone = None
    try:
        email = normalise_email(data.email) if data.email.strip() else None
    except InvalidAddress as exc:
        errors["email"] = str(exc)
    try:
        phone = normalise_phone(data.phone, client.default_region) if data.phone.strip() else None
    except InvalidAddress as exc:
        errors["phone"] = str(exc)
    if not errors and email is None and phone is None:
        errors["email"] = _("A contact needs an email address or a phone number.")
    for column, value in (("email", email), ("phone", phone)):
        if value is None or column in errors:
            continue
        clash = select(Contact.id).where(Contact.client_id == client.id, getattr(Contact, column) == value)
        if current is not None:
            clash = clash.where(Contact.id != current.id)
        if db.session.scalar(clash) is not None:
            errors[column] = _("Another contact has %(value)s.", value=value)
    values = dict(current.fields or {}) if current is not None else {}
    known = {f.key: f for f in field_service.list_fields()}
    for key, raw in data.values.items():
        f = known.get(key)
        if f is None:
            errors[f"field:{key}"] = _("Unknown field.")
            continue
        if not raw.strip():
            values.pop(key, None)
            continue
        try:
            values[key] = convert(spec_of(f), raw.strip())
        except FieldValueError as exc:
            errors[f"field:{key}"] = f"{f.label}: {exc}"
    if errors:
        raise ContactInvalid(errors)
    return email, phone, values


def save_contact(
    *, actor: User | None, client: Client, data: ContactInput, contact: Contact | None = None
) -> Contact:
    """Create (contact None) or change a contact, then subscribe it to `data.list_ids` (source "manual")."""
    email, phone, values = _clean(client, data, contact)
    created = contact is None
    if contact is None:
        contact = Contact(agency_id=client.agency_id, client_id=client.id)
        db.session.add(contact)
    contact.email, contact.phone, contact.fields = email, phone, values
    db.session.flush()
    if data.list_ids:
        subscribe(actor=actor, client=client, contact=contact, list_ids=data.list_ids, ip=data.ip)
    record(
        "contact.created" if created else "contact.updated",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=email or phone or "",
    )
    return contact


def subscribe(
    *,
    actor: User | None,
    client: Client,
    contact: Contact,
    list_ids,
    ip: str = "",
    only_channels: tuple[str, ...] | None = None,
    pending: bool = False,
    source: str = "manual",
) -> list[tuple[int, str]]:
    """Subscribe on every channel the list has and the contact can receive (or only `only_channels`);
    suppressed addresses are refused with the reason. `pending` (double opt-in, portal/forms/optin.py)
    leaves new subscriptions waiting for confirmation — they receive nothing — and never demotes one
    already subscribed. Returns the (list id, channel) pairs this call changed."""
    now = datetime.now(UTC)
    joined = []  # (list id, channel, +1) for each subscription this call turns on
    changed: list[tuple[int, str]] = []
    for list_id in sorted(set(list_ids)):
        lst = db.session.scalar(select(MailingList).where(MailingList.id == list_id))
        if lst is None:
            raise DomainError(_("Unknown list."))
        channels = []
        if lst.email_enabled and contact.email and (only_channels is None or CHANNEL_EMAIL in only_channels):
            channels.append((CHANNEL_EMAIL, contact.email))
        if lst.sms_enabled and contact.phone and (only_channels is None or CHANNEL_SMS in only_channels):
            channels.append((CHANNEL_SMS, contact.phone))
        if not channels:
            raise DomainError(
                _("This contact has no address for the channels of the list %(name)s.", name=lst.name)
            )
        for channel, address in channels:
            reason = suppression_reason(client, channel, address)
            if reason is not None:
                raise DomainError(
                    _(
                        "%(address)s cannot be subscribed to %(name)s: it is suppressed (%(reason)s).",
                        address=address,
                        name=lst.name,
                        reason=suppression_label(reason),
                    )
                )
            sub = db.session.scalar(
                select(Subscription).where(
                    Subscription.list_id == lst.id,
                    Subscription.contact_id == contact.id,
                    Subscription.channel == channel,
                )
            )
            if sub is None:
                sub = Subscription(
                    agency_id=client.agency_id,
                    client_id=client.id,
                    list_id=lst.id,
                    contact_id=contact.id,
                    channel=channel,
                )
                db.session.add(sub)
            elif sub.status == SUB_SUBSCRIBED or (pending and sub.status == SUB_PENDING):
                continue
            changed.append((lst.id, channel))
            if pending:
                sub.status, sub.consent_ip, sub.consent_source = SUB_PENDING, ip[:64], source[:16]
                continue
            sub.status, sub.consent_at, sub.consent_ip, sub.consent_source = (
                SUB_SUBSCRIBED,
                now,
                ip[:64],
                source[:16],
            )
            joined.append((lst.id, channel, 1))
    db.session.flush()
    adjust_counts(client.id, joined)
    return changed


def withdraw_pending(*, client: Client, contact: Contact, list_ids, channels) -> int:
    """Remove subscriptions still `pending` (an unconfirmed double opt-in that expired): they were never
    consented to, so nothing of them is kept. Subscribed ones are left alone. Returns how many went."""
    subs = list(
        db.session.scalars(
            select(Subscription).where(
                Subscription.client_id == client.id,
                Subscription.contact_id == contact.id,
                Subscription.list_id.in_(list(list_ids)),
                Subscription.channel.in_(list(channels)),
                Subscription.status == SUB_PENDING,
            )
        )
    )
    for sub in subs:
        db.session.delete(sub)
    db.session.flush()
    return len(subs)


def unsubscribe(
    *, actor: User | None, client: Client, contact: Contact, subscription_id: int
) -> Subscription:
    sub = db.session.scalar(
        select(Subscription).where(Subscription.id == subscription_id, Subscription.contact_id == contact.id)
    )
    if sub is None:
        raise NotFound("subscription")
    was_subscribed = sub.status == SUB_SUBSCRIBED
    sub.status = SUB_UNSUBSCRIBED
    db.session.flush()
    if was_subscribed:
        adjust_counts(client.id, [(sub.list_id, sub.channel, -1)])
    record(
        "contact.unsubscribed",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=contact.email or contact.phone or "",
        list_id=sub.list_id,
        channel=sub.channel,
    )
    return sub


def delete_contact(*, actor: User | None, client: Client, contact: Contact) -> None:
    left = db.session.execute(
        select(Subscription.list_id, Subscription.channel).where(
            Subscription.contact_id == contact.id, Subscription.status == SUB_SUBSCRIBED
        )
    ).all()
    db.session.execute(
        delete(Subscription).where(Subscription.client_id == client.id, Subscription.contact_id == contact.id)
    )
    record(
        "contact.deleted",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=contact.email or contact.phone or "",
    )
    db.session.delete(contact)
    db.session.flush()
    adjust_counts(client.id, [(list_id, channel, -1) for list_id, channel in left])


def delete_field(*, actor: User | None, client: Client, f: Field) -> None:
    """Delete a custom field and its values in every contact; refused while a segment uses it."""
    for seg in db.session.scalars(select(Segment).where(Segment.client_id == client.id)):
        conditions = (seg.rules or {}).get("conditions") or []
        if any(c.get("type") == "field" and c.get("key") == f.key for c in conditions if isinstance(c, dict)):
            raise DomainError(_("The segment %(name)s uses this field; change it first.", name=seg.name))
    remove_field_values(client, f.key)
    field_service.delete_field(actor=actor, client=client, f=f)
    db.session.flush()


def suppression_label(reason: str) -> str:
    labels = {
        "unsubscribe": _("unsubscribed"),
        "list_unsubscribe": _("unsubscribed from the email header"),
        "hard_bounce": _("hard bounce"),
        "soft_bounce_limit": _("too many soft bounces"),
        "complaint": _("complaint"),
        "manual": _("added by hand"),
        "invalid": _("invalid address"),
    }
    return labels.get(reason, reason)
