"""Subscribed contacts per list and channel (`MailingList.email_subscribed_count`, `sms_subscribed_count`),
kept up to date by the statements that change subscriptions, so the lists pages read two columns instead
of counting millions of rows. Shared core (DESIGN.md §4): services call it, it imports only models.

Two ways to keep them, both touching only the lists concerned:
- `adjust`: the statement that changed subscriptions knows what it changed (the ORM rows it set, an
  UPDATE … RETURNING) and moves each count by that much. `count = count + d` is safe under concurrency:
  the row lock orders concurrent adjustments, none is lost.
- `recount`: a writer that cannot tell what it changed counts its own target lists once, per channel,
  on the (list_id, channel, status) index (imports do the same on their own connection, imports/stage.py).

A contact subscribed on both channels of a list counts once in each column, never twice in one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import func, select, update

from .extensions import db
from .models import MailingList, Subscription
from .models.audience import CHANNEL_EMAIL, CHANNEL_SMS, SUB_SUBSCRIBED

COLUMNS = {CHANNEL_EMAIL: "email_subscribed_count", CHANNEL_SMS: "sms_subscribed_count"}


def adjust(client_id: int, changes: Iterable[tuple[int, str, int]]) -> None:
    """`changes`: (list id, channel, +n or -n) triples, summed per list; one UPDATE per list that moves.
    Lists are updated in id order, so two transactions adjusting the same lists cannot deadlock."""
    per_list: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
    for list_id, channel, delta in changes:
        per_list[list_id][channel] += delta
    moved = []
    for list_id in sorted(per_list):
        deltas = {COLUMNS[ch]: d for ch, d in per_list[list_id].items() if d}
        if not deltas:
            continue
        db.session.execute(
            update(MailingList)
            .where(MailingList.client_id == client_id, MailingList.id == list_id)
            .values({col: getattr(MailingList, col) + d for col, d in deltas.items()})
            .execution_options(synchronize_session=False)
        )
        moved.append(list_id)
    _expire(moved)


def recount(client_id: int, list_ids: Iterable[int]) -> None:
    """Count these lists again, each channel on its own (for writers that cannot say what they changed)."""
    ids = sorted(set(list_ids))
    if not ids:
        return

    def counted(channel: str):
        return (
            select(func.count())
            .select_from(Subscription)
            .where(
                Subscription.list_id == MailingList.id,
                Subscription.channel == channel,
                Subscription.status == SUB_SUBSCRIBED,
            )
            .scalar_subquery()
        )

    # Lock first, count after: the UPDATE's snapshot then includes every adjustment committed before it
    # (an UPDATE that waits for a row lock keeps the snapshot it started with for its subqueries).
    db.session.execute(
        select(MailingList.id)
        .where(MailingList.client_id == client_id, MailingList.id.in_(ids))
        .order_by(MailingList.id)
        .with_for_update()
    ).all()
    db.session.execute(
        update(MailingList)
        .where(MailingList.client_id == client_id, MailingList.id.in_(ids))
        .values({col: counted(ch) for ch, col in COLUMNS.items()})
        .execution_options(synchronize_session=False)
    )
    _expire(ids)


def _expire(list_ids: list[int]) -> None:
    """Loaded lists read the new counts from the database next time (the UPDATEs bypassed the ORM)."""
    ids = set(list_ids)
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, MailingList) and obj.id in ids:
            db.session.expire(obj, list(COLUMNS.values()))
