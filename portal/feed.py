"""The events feed: what happened to a client's contacts, in a stable order, read with a cursor.

Two append-only streams are merged: `Event` rows (deliveries, opens, clicks, bounces, complaints,
unsubscribes — every source) and the `SubscriptionChange` journal (subscribes, unsubscribes, pending,
bounced, complained; written by database triggers, models/feed_ddl.py). The REST API serves it at
`/api/v1/events` and the webhook dispatcher reads it with one cursor per endpoint.

Why the cursor never skips or repeats a row, even under concurrent writers:
- PostgreSQL hands out ids at INSERT time but transactions commit in any order, so "id > last id" would
  skip a row with a lower id that commits after a higher one was served. Every row therefore carries its
  transaction id (`txid`), and a page contains only rows with `txid` below the horizon (`_horizon`: the
  oldest transaction still running in this database): every transaction below it has ended, and any
  transaction that writes later gets a larger id, so that part of each stream is final. Rows are served in (txid, id) order; the cursor holds the last
  (txid, id) served per stream. The price: a row appears only once every older transaction has ended.
- SQLite has one writer at a time, holding the lock from its first write to its commit, so ids are
  handed out in commit order and "id > last id" is already final.
The cursor is opaque to clients (base64 of the two positions).
"""

from __future__ import annotations

import base64
import binascii
import heapq
import itertools
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text, tuple_

from .extensions import db
from .models import Contact, Event, SubscriptionChange

EVENT_TYPES = {
    "delivered": "email.delivered",
    "open": "email.opened",
    "click": "email.clicked",
    "bounce": "email.bounced",
    "complaint": "email.complained",
    "unsubscribe": "email.unsubscribed",
}
SUBSCRIPTION_TYPES = {
    "subscribed": "subscription.subscribed",
    "unsubscribed": "subscription.unsubscribed",
    "pending": "subscription.pending",
    "bounced": "subscription.bounced",
    "complained": "subscription.complained",
}
ALL_TYPES = sorted(
    {
        *EVENT_TYPES.values(),
        *SUBSCRIPTION_TYPES.values(),
        *(t.replace("email.", "sms.") for t in EVENT_TYPES.values()),
    }
)
MAX_LIMIT = 500


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Position:
    txid: int = 0
    id: int = 0


@dataclass(frozen=True)
class Cursor:
    events: Position = Position()
    changes: Position = Position()

    def encode(self) -> str:
        raw = f"1.{self.events.txid}.{self.events.id}.{self.changes.txid}.{self.changes.id}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str | None) -> Cursor:
        if not value:
            return cls()
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
            version, et, ei, ct, ci = raw.split(".")
            numbers = [int(n) for n in (et, ei, ct, ci)]
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise BadCursor("The cursor is not one this feed returned.") from exc
        # transaction ids are 64-bit, row ids 32-bit integers
        if version != "1" or any(n < 0 for n in numbers) or max(numbers[0], numbers[2]) >= 2**63:
            raise BadCursor("The cursor is not one this feed returned.")
        if max(numbers[1], numbers[3]) >= 2**31:
            raise BadCursor("The cursor is not one this feed returned.")
        return cls(Position(numbers[0], numbers[1]), Position(numbers[2], numbers[3]))


@dataclass
class Page:
    items: list[dict]
    cursor: Cursor


def _pg() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _horizon() -> int | None:
    """PostgreSQL: rows of transactions below this id are final. None on SQLite (ids are final).

    The horizon is the oldest transaction id still running *in this database* (transaction ids are
    server-wide, but a transaction of another database cannot write these tables, so it must not hold
    the feed back), else the next id to be handed out. The next id is read first: a transaction that gets
    an id later gets a larger one. Seeing other sessions' `backend_xid` needs the same role as theirs (or
    pg_read_all_stats) — the portal connects with one role."""
    if not _pg():
        return None
    run = db.session.execute
    run(text("SELECT pg_stat_clear_snapshot()"))
    xmax = int(run(text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")).scalar())
    running = run(
        text(
            "SELECT backend_xid::text::bigint FROM pg_stat_activity "
            "WHERE datname = current_database() AND backend_xid IS NOT NULL"
        )
    ).scalars()
    oldest = xmax
    for xid32 in running:  # 32-bit xid → the 64-bit id of the same epoch (or the one before)
        full = ((xmax >> 32) << 32) + int(xid32)
        if full > xmax:
            full -= 1 << 32
        oldest = min(oldest, full)
    return oldest


def _after(model, client_id: int, pos: Position, horizon: int | None, limit: int):
    # The client is named explicitly, not left to the tenant filter: the webhook dispatcher may run with
    # the filter opted out, and the (client_id, txid, id) index needs it anyway.
    query = select(model).where(model.client_id == client_id)
    if horizon is None:
        query = query.where(model.id > pos.id).order_by(model.id)
    else:
        query = query.where(
            model.txid < horizon, tuple_(model.txid, model.id) > tuple_(pos.txid, pos.id)
        ).order_by(model.txid, model.id)
    return list(db.session.scalars(query.limit(limit)))


def read(client_id: int, cursor: Cursor, limit: int = 100) -> Page:
    """The next `limit` items after `cursor` for this client (named in every query)."""
    limit = max(1, min(limit, MAX_LIMIT))
    horizon = _horizon()
    events = _after(Event, client_id, cursor.events, horizon, limit)
    changes = _after(SubscriptionChange, client_id, cursor.changes, horizon, limit)
    # A merge that keeps each stream in its own order (the order its cursor position follows), and
    # interleaves the two by transaction id, then time.
    merged = heapq.merge(
        [(_key(e, 0), "e", e) for e in events], [(_key(c, 1), "s", c) for c in changes], key=lambda i: i[0]
    )
    taken = list(itertools.islice(merged, limit))
    contacts = _contacts(client_id, {row.contact_id for _, _, row in taken if row.contact_id})
    items = [
        _event_item(row, contacts) if kind == "e" else _change_item(row, contacts) for _, kind, row in taken
    ]
    last_event = next((row for _, kind, row in reversed(taken) if kind == "e"), None)
    last_change = next((row for _, kind, row in reversed(taken) if kind == "s"), None)
    return Page(
        items=items,
        cursor=Cursor(
            Position(last_event.txid or 0, last_event.id) if last_event else cursor.events,
            Position(last_change.txid or 0, last_change.id) if last_change else cursor.changes,
        ),
    )


def _key(row, rank: int) -> tuple:
    # PostgreSQL: commit-safe order across both streams; SQLite: by time, then stream, then id.
    when = row.created_at if rank == 0 else row.changed_at
    return (row.txid or 0, _timestamp(when), rank, row.id)


def _timestamp(when: datetime | None) -> float:
    return when.timestamp() if when else 0.0


def _contacts(client_id: int, ids: set[int]) -> dict[int, Contact]:
    if not ids:
        return {}
    query = select(Contact).where(Contact.client_id == client_id, Contact.id.in_(sorted(ids)))
    return {c.id: c for c in db.session.scalars(query)}


def _contact(contacts: dict[int, Contact], contact_id: int | None) -> dict | None:
    c = contacts.get(contact_id) if contact_id else None
    if c is None:
        return {"id": contact_id, "email": None, "phone": None} if contact_id else None
    return {"id": c.id, "email": c.email, "phone": c.phone}


def iso(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when else None


def _event_item(e: Event, contacts: dict[int, Contact]) -> dict:
    kind = EVENT_TYPES.get(e.kind, f"email.{e.kind}")
    if e.channel == "sms":
        kind = kind.replace("email.", "sms.")
    data = {}
    if e.kind == "bounce":
        data = {"bounce_class": e.bounce_class, "status_code": e.status_code, "diagnostic": e.detail[:500]}
    elif e.kind == "click":
        data = {"url": e.detail[:2000]}
    elif e.kind == "complaint":
        data = {"feedback_type": e.detail[:200]}
    return {
        "id": f"evt_{e.id}",
        "type": kind,
        "occurred_at": iso(e.created_at),
        "channel": e.channel,
        "contact": _contact(contacts, e.contact_id),
        "campaign_id": e.campaign_id,
        "list_id": None,
        "data": data,
    }


def _change_item(c: SubscriptionChange, contacts: dict[int, Contact]) -> dict:
    return {
        "id": f"sub_{c.id}",
        "type": SUBSCRIPTION_TYPES.get(c.status, f"subscription.{c.status}"),
        "occurred_at": iso(c.changed_at),
        "channel": c.channel,
        "contact": _contact(contacts, c.contact_id),
        "campaign_id": None,
        "list_id": c.list_id,
        "data": {"source": c.source},
    }


def end_cursor(client_id: int) -> Cursor:
    """A cursor past everything final now (a new webhook endpoint starts here, not at the beginning)."""
    horizon = _horizon()
    positions = []
    for model in (Event, SubscriptionChange):
        query = select(model.txid, model.id).where(model.client_id == client_id)
        if horizon is None:
            query = query.order_by(model.id.desc())
        else:
            query = query.where(model.txid < horizon).order_by(model.txid.desc(), model.id.desc())
        row = db.session.execute(query.limit(1)).first()
        positions.append(Position(row[0] or 0, row[1]) if row else Position())
    return Cursor(*positions)
