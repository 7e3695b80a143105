"""Suppression entries learned in bulk from a provider, set-based: one INSERT … ON CONFLICT DO NOTHING for
the whole batch (an address already suppressed keeps its first entry), then one UPDATE per reason for
the subscriptions of the newly suppressed addresses (RETURNING the lists that lose a subscriber, so the
kept counts move by what changed). The same rules as `services.suppression.add`, per batch instead of
per address: a hard bounce makes subscriptions 'bounced', a complaint 'complained', anything else
'unsubscribed'; every new entry is one audit row, all of them written by one INSERT."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..imports.addresses import InvalidAddress, normalise_email, normalise_phone
from ..list_counts import adjust as adjust_counts
from ..models import Client, Contact, Subscription, Suppression
from ..models.audience import CHANNEL_EMAIL, CHANNEL_SMS, SUB_SUBSCRIBED
from ..services.audit import record_many

STATUS = {"hard_bounce": "bounced", "soft_bounce_limit": "bounced", "complaint": "complained"}


def suppress_many(
    client: Client, entries: list[tuple[str, str, str, str]], channel: str = CHANNEL_EMAIL
) -> list[str]:
    """`entries`: (address, reason, source, note) — email addresses, or numbers on the SMS channel.
    Returns the addresses newly suppressed."""
    values, seen = [], set()
    now = datetime.now(UTC)
    for raw, reason, source, note in entries:
        try:
            if channel == CHANNEL_SMS:
                address = normalise_phone(raw, client.default_region or "IT")
            else:
                address = normalise_email(raw)
        except InvalidAddress:
            continue
        if address in seen:
            continue
        seen.add(address)
        values.append(
            {
                "agency_id": client.agency_id,
                "client_id": client.id,
                "channel": channel,
                "address": address,
                "reason": reason,
                "source": source[:64],
                "note": note,
                "created_at": now,
            }
        )
    if not values:
        return []
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    # executemany of one cached statement (SQLAlchemy batches it into multi-row INSERTs with RETURNING):
    # compiling a fresh statement with thousands of VALUES costs more than the database's work.
    table = Suppression.__table__
    added = {
        address
        for (address,) in db.session.execute(
            insert(table)
            .on_conflict_do_nothing(index_elements=["client_id", "channel", "address"])
            .returning(table.c.address),
            values,
        ).all()
    }
    by_reason: dict[str, list[str]] = defaultdict(list)
    for v in values:
        if v["address"] in added:
            by_reason[v["reason"]].append(v["address"])
    record_many(
        "suppression.added",
        agency_id=client.agency_id,
        client_id=client.id,
        rows=[
            (v["address"], {"reason": v["reason"], "channel": channel})
            for v in values
            if v["address"] in added
        ],
    )
    left = []
    for reason, addresses in by_reason.items():
        column = Contact.phone if channel == CHANNEL_SMS else Contact.email
        contacts = select(Contact.id).where(Contact.client_id == client.id, column.in_(addresses))
        left += db.session.execute(
            update(Subscription)
            .where(
                Subscription.client_id == client.id,
                Subscription.channel == channel,
                Subscription.status == SUB_SUBSCRIBED,
                Subscription.contact_id.in_(contacts),
            )
            .values(status=STATUS.get(reason, "unsubscribed"))
            .returning(Subscription.list_id)
            .execution_options(synchronize_session=False)
        ).all()
    adjust_counts(client.id, [(list_id, channel, -1) for (list_id,) in left])
    return sorted(added)
