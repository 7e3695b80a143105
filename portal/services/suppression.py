"""Suppression: one answer to "may we send to this address/number for this client and list?".

Client entries, agency-wide and platform-wide entries all count. The bulk form (`suppressed_addresses`)
is what imports and sends use; `may_send` is the single-address form for the API and forms.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask import has_request_context
from flask_babel import gettext
from sqlalchemy import Date, cast, func, select, text

from ..extensions import db
from ..imports.addresses import InvalidAddress, normalise_email, normalise_phone
from ..list_counts import adjust as adjust_counts
from ..models import BlockedAddress, Client, Suppression, User
from ..models.audience import CHANNEL_EMAIL, CHANNEL_SMS, SUB_SUBSCRIBED
from ..models.suppression import PROTECTED_REASONS, REASONS
from ..models.user import ROLE_CLIENT_ADMIN
from ..paging import Page
from ..tenancy import all_tenants
from . import DomainError, NotFound
from .audit import record


def _(message: str, **values) -> str:
    """Translated in a request; plain English in jobs and CLI commands (no locale to choose there)."""
    if has_request_context():
        return gettext(message, **values)
    return message % values if values else message


CHANNELS = (CHANNEL_EMAIL, CHANNEL_SMS)
# Reasons a person may choose when adding entries by hand (the others come from bounces and complaints).
MANUAL_REASONS = ("manual", "unsubscribe", "invalid")
# Agency-wide and platform-wide entries.
BLOCK_REASONS = ("abuse", "legal", "manual")
MAX_BULK_LINES = 5000
PER_PAGE = 50


def normalise(channel: str, raw: str, client: Client) -> str:
    try:
        if channel == CHANNEL_EMAIL:
            return normalise_email(raw)
        if channel == CHANNEL_SMS:
            return normalise_phone(raw, client.default_region)
    except InvalidAddress as exc:
        raise DomainError(f"'{raw}': {exc}") from exc
    raise DomainError(f"unknown channel {channel!r}")


def suppression_reason(client: Client, channel: str, address: str) -> str | None:
    """The reason the address is suppressed for this client (client, agency or platform entry), or None."""
    row = db.session.execute(
        text(
            "SELECT reason FROM suppression WHERE client_id = :cid AND channel = :ch AND address = :a "
            "UNION ALL SELECT reason FROM blocked_address WHERE (agency_id = :aid OR agency_id IS NULL) "
            "AND channel = :ch AND address = :a"
        ),
        {"cid": client.id, "aid": client.agency_id, "ch": channel, "a": address},
    ).first()
    return row[0] if row else None


def may_send(client: Client, channel: str, address: str, list_id: int | None = None) -> bool:
    """True only when nothing suppresses the address and (with a list) the contact is subscribed to it."""
    if suppression_reason(client, channel, address) is not None:
        return False
    if list_id is None:
        return True
    column = "email" if channel == CHANNEL_EMAIL else "phone"
    status = db.session.execute(
        text(
            f"SELECT s.status FROM subscription s JOIN contact c ON c.id = s.contact_id WHERE s.client_id = :cid "
            f"AND s.list_id = :lid AND s.channel = :ch AND c.{column} = :a"
        ),
        {"cid": client.id, "lid": list_id, "ch": channel, "a": address},
    ).scalar()
    return status == SUB_SUBSCRIBED


def add(
    *,
    actor: User | None,
    client: Client,
    channel: str,
    raw_address: str,
    reason: str,
    source: str,
    note: str = "",
) -> Suppression:
    if reason not in REASONS:
        raise DomainError(f"unknown reason {reason!r}")
    address = normalise(channel, raw_address, client)
    existing = _existing(client, channel, address)
    if existing is not None:
        return existing
    entry = Suppression(
        agency_id=client.agency_id,
        client_id=client.id,
        channel=channel,
        address=address,
        reason=reason,
        source=source,
        note=note,
        created_by_id=actor.id if actor else None,
        created_at=datetime.now(UTC),
    )
    db.session.add(entry)
    _mark_subscriptions(client, channel, address, reason)
    record(
        "suppression.added",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=address,
        reason=reason,
        channel=channel,
    )
    return entry


def _existing(client: Client, channel: str, address: str) -> Suppression | None:
    return db.session.scalar(
        select(Suppression).where(
            Suppression.client_id == client.id, Suppression.channel == channel, Suppression.address == address
        )
    )


def _mark_subscriptions(client: Client, channel: str, address: str, reason: str) -> None:
    """Subscriptions of a suppressed contact stop counting as subscribed: on this channel, only the lists
    the address was subscribed to lose one each (the statement returns them); no other list is touched."""
    status = {"hard_bounce": "bounced", "soft_bounce_limit": "bounced", "complaint": "complained"}.get(
        reason, "unsubscribed"
    )
    column = "email" if channel == CHANNEL_EMAIL else "phone"
    db.session.flush()
    left = db.session.execute(
        text(
            f"UPDATE subscription SET status = :st WHERE client_id = :cid AND channel = :ch AND status = 'subscribed' "
            f"AND contact_id IN (SELECT id FROM contact WHERE client_id = :cid AND {column} = :a) RETURNING list_id"
        ),
        {"st": status, "cid": client.id, "ch": channel, "a": address},
    ).all()
    adjust_counts(client.id, [(list_id, channel, -1) for (list_id,) in left])


def get_entry(entry_id: int, client: Client | None = None) -> Suppression:
    query = select(Suppression).where(Suppression.id == entry_id)
    if client is not None:
        query = query.where(Suppression.client_id == client.id)
    entry = db.session.scalar(query)
    if entry is None:
        raise NotFound("suppression")
    return entry


def can_remove(actor: User, entry: Suppression) -> bool:
    """Client admins (and agency staff) lift ordinary entries; protected ones need agency staff."""
    if entry.reason in PROTECTED_REASONS:
        return actor.is_agency_staff
    return actor.is_agency_staff or actor.role == ROLE_CLIENT_ADMIN


def remove(*, actor: User, entry: Suppression, reason_text: str = "") -> None:
    """Hard bounces and complaints protect sender reputation: only agency staff may lift them, with a reason.

    Removing an entry never resubscribes anyone: subscriptions keep the status the entry gave them, and so
    every list keeps its counts."""
    if entry.reason in PROTECTED_REASONS:
        if not actor.is_agency_staff:
            raise DomainError(_("Only your agency can remove a hard bounce or a complaint."))
        if not reason_text.strip():
            raise DomainError(_("Say why this entry is removed."))
    elif not can_remove(actor, entry):
        raise DomainError(_("Only an administrator of the account can remove entries."))
    record(
        "suppression.removed",
        actor=actor,
        agency_id=entry.agency_id,
        client_id=entry.client_id,
        target=entry.address,
        reason=entry.reason,
        why=reason_text.strip(),
    )
    db.session.delete(entry)


def add_blocked(
    *,
    actor: User,
    agency_id: int | None,
    channel: str,
    address: str,
    reason: str,
    note: str = "",
    region: str = "IT",
) -> BlockedAddress:
    """Agency-wide (agency_id) or platform-wide (None) entries that apply to every client below."""
    if channel not in CHANNELS:
        raise DomainError("unknown channel")
    try:
        address = normalise_email(address) if channel == CHANNEL_EMAIL else normalise_phone(address, region)
    except InvalidAddress as exc:
        raise DomainError(_invalid_message(channel)) from exc
    with all_tenants():
        scope = (
            BlockedAddress.agency_id.is_(None) if agency_id is None else BlockedAddress.agency_id == agency_id
        )
        existing = db.session.scalar(
            select(BlockedAddress.id).where(
                scope, BlockedAddress.channel == channel, BlockedAddress.address == address
            )
        )
        if existing is not None:
            raise DomainError(_("%(address)s is already blocked.", address=address))
        row = BlockedAddress(
            agency_id=agency_id, channel=channel, address=address, reason=reason, note=note.strip()
        )
        db.session.add(row)
        record(
            "suppression.blocked",
            actor=actor,
            agency_id=agency_id,
            target=address,
            reason=reason,
            channel=channel,
        )
        db.session.flush()
    return row


def _invalid_message(channel: str) -> str:
    return _("not a valid email address") if channel == CHANNEL_EMAIL else _("not a valid phone number")


# --- adding many entries by hand -----------------------------------------------------------------------


@dataclass
class LineProblem:
    line: int
    value: str
    message: str


@dataclass
class BulkResult:
    added: int = 0
    already: int = 0
    problems: list[LineProblem] = field(default_factory=list)


def add_many(
    *, actor: User, client: Client, channel: str, lines: str, reason: str = "manual", note: str = ""
) -> BulkResult:
    """One address or number per line. Every line that is not added is reported with its number: invalid
    values, repeats of an earlier line, entries already on the list. Blank lines are not entries."""
    if channel not in CHANNELS:
        raise DomainError("unknown channel")
    if reason not in MANUAL_REASONS:
        raise DomainError("unknown reason")
    rows = lines.splitlines()
    if len(rows) > MAX_BULK_LINES:
        raise DomainError(_("Add at most %(n)s lines at a time.", n=MAX_BULK_LINES))
    result = BulkResult()
    seen: dict[str, int] = {}
    for number, raw in enumerate(rows, start=1):
        value = raw.strip()
        if not value:
            continue
        try:
            address = (
                normalise_email(value)
                if channel == CHANNEL_EMAIL
                else normalise_phone(value, client.default_region)
            )
        except InvalidAddress:
            result.problems.append(LineProblem(number, value, _invalid_message(channel)))
            continue
        if address in seen:
            result.problems.append(LineProblem(number, value, _("the same as line %(n)s", n=seen[address])))
            continue
        seen[address] = number
        if _existing(client, channel, address) is not None:
            result.already += 1
            result.problems.append(LineProblem(number, value, _("already on the suppression list")))
            continue
        add(
            actor=actor,
            client=client,
            channel=channel,
            raw_address=address,
            reason=reason,
            source="manual",
            note=note.strip(),
        )
        result.added += 1
    return result


# --- reading the client's list ---------------------------------------------------------------------------


@dataclass
class Filters:
    q: str = ""
    channel: str = ""
    reason: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def apply(self, query, client: Client):
        query = query.where(Suppression.client_id == client.id)
        q = self.q.strip().lower()
        if q:
            escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(Suppression.address.like(f"{escaped}%", escape="\\"))
        if self.channel in CHANNELS:
            query = query.where(Suppression.channel == self.channel)
        if self.reason in REASONS:
            query = query.where(Suppression.reason == self.reason)
        if self.date_from:
            query = query.where(Suppression.created_at >= datetime.combine(self.date_from, time(), UTC))
        if self.date_to:
            end = datetime.combine(self.date_to + timedelta(days=1), time(), UTC)
            query = query.where(Suppression.created_at < end)
        return query


def entry_page(client: Client, filters: Filters, page: int, per_page: int = PER_PAGE) -> Page:
    """Newest first, LIMIT/OFFSET on the created_at index; the total is one COUNT with the same filters."""
    total = db.session.scalar(filters.apply(select(func.count(Suppression.id)), client)) or 0
    page = min(max(1, page), max(1, math.ceil(total / per_page)))
    query = filters.apply(select(Suppression), client).order_by(
        Suppression.created_at.desc(), Suppression.id.desc()
    )
    items = list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, page=page, per_page=per_page, total=total)


def user_names(user_ids: set[int]) -> dict[int, str]:
    """Who added entries (names or addresses of users of this agency; platform users answer nothing)."""
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.name, User.email).where(User.id.in_(ids)))
    return {uid: name or email for uid, name, email in rows}


def reason_counts(client: Client) -> dict[str, int]:
    rows = db.session.execute(
        select(Suppression.reason, func.count(Suppression.id))
        .where(Suppression.client_id == client.id)
        .group_by(Suppression.reason)
    )
    return {reason: count for reason, count in rows}


def _day_expression():
    if db.engine.dialect.name == "postgresql":
        return cast(func.timezone("UTC", Suppression.created_at), Date)
    return func.date(Suppression.created_at)


def daily_counts(client: Client, days: int, today: date | None = None) -> dict:
    """Entries added per UTC day and reason over the last `days` days (today included), gaps filled with 0.

    {"days": ["2024-05-01", …], "series": {"hard_bounce": [0, 3, …], …}, "total": n}; only reasons with at
    least one entry in the window appear in `series`."""
    today = today or datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    day = _day_expression()
    rows = db.session.execute(
        select(day, Suppression.reason, func.count(Suppression.id))
        .where(
            Suppression.client_id == client.id,
            Suppression.created_at >= datetime.combine(first, time(), UTC),
        )
        .group_by(day, Suppression.reason)
    )
    labels = [(first + timedelta(days=i)).isoformat() for i in range(days)]
    index = {d: i for i, d in enumerate(labels)}
    series: dict[str, list[int]] = {}
    total = 0
    for d, reason, count in rows:
        i = index.get(str(d)[:10])
        if i is None:
            continue
        series.setdefault(reason, [0] * days)[i] += count
        total += count
    ordered = {r: series[r] for r in REASONS if r in series}
    ordered.update({r: v for r, v in series.items() if r not in ordered})
    return {"days": labels, "series": ordered, "total": total}


def export_rows(client: Client, filters: Filters, batch: int = 1000) -> Iterator[list[Suppression]]:
    """Batches of entries in id order (keyset), for streaming exports."""
    last_id = 0
    while True:
        query = filters.apply(select(Suppression), client).where(Suppression.id > last_id)
        rows = list(db.session.scalars(query.order_by(Suppression.id).limit(batch)))
        if not rows:
            return
        yield rows
        last_id = rows[-1].id
        db.session.expunge_all()


# --- agency-wide and platform-wide entries ---------------------------------------------------------------


def _blocked_scope(agency_id: int | None):
    return BlockedAddress.agency_id.is_(None) if agency_id is None else BlockedAddress.agency_id == agency_id


def blocked_page(agency_id: int | None, q: str, page: int, per_page: int = PER_PAGE) -> Page:
    """Entries of one agency, or the platform's own (agency_id NULL) — never both, never another agency's."""
    conditions = [_blocked_scope(agency_id)]
    q = q.strip().lower()
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(BlockedAddress.address.like(f"{escaped}%", escape="\\"))
    total = db.session.scalar(select(func.count(BlockedAddress.id)).where(*conditions)) or 0
    page = min(max(1, page), max(1, math.ceil(total / per_page)))
    query = (
        select(BlockedAddress)
        .where(*conditions)
        .order_by(BlockedAddress.created_at.desc(), BlockedAddress.id.desc())
    )
    items = list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, page=page, per_page=per_page, total=total)


def get_blocked(agency_id: int | None, entry_id: int) -> BlockedAddress:
    row = db.session.scalar(
        select(BlockedAddress).where(BlockedAddress.id == entry_id, _blocked_scope(agency_id))
    )
    if row is None:
        raise NotFound("blocked address")
    return row


def remove_blocked(*, actor: User, entry: BlockedAddress) -> None:
    record(
        "suppression.unblocked",
        actor=actor,
        agency_id=entry.agency_id,
        target=entry.address,
        reason=entry.reason,
        channel=entry.channel,
    )
    db.session.delete(entry)
    db.session.flush()


def client_entry_counts(agency_id: int) -> list[tuple[int, str, int]]:
    """(client id, name, entries) for every client of the agency, largest lists first."""
    counts = dict(
        db.session.execute(
            select(Suppression.client_id, func.count(Suppression.id))
            .where(Suppression.agency_id == agency_id)
            .group_by(Suppression.client_id)
        ).all()
    )
    clients = db.session.execute(
        select(Client.id, Client.name).where(Client.agency_id == agency_id).order_by(Client.name)
    ).all()
    rows = [(cid, name, counts.get(cid, 0)) for cid, name in clients]
    return sorted(rows, key=lambda r: (-r[2], r[1].lower()))
