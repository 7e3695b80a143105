"""What recipients and mailbox providers tell us about a delivery: opens, clicks, unsubscribes, bounces,
complaints — recorded once each and turned into suppression where the standards say so.

Every function takes the `Delivery` the message's own token identified (never an address found in a
report: the same address may be a contact of several tenants) and must run with that delivery's tenant
bound (`bind_tenant(delivery.agency_id, delivery.client_id)`). Functions flush, never commit.

Idempotency: `(client, source, provider_event_id)` is unique. A report delivered twice carries the same
id and is recorded once; its side effects (suppression, soft-bounce counting) follow only the first
recording. Events pulled from a provider in bulk go through `record_pulled`: one set-based insert that
skips the ids already recorded and returns the new ones.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from flask import has_request_context
from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..list_counts import adjust as adjust_counts
from ..models import AuditEvent, Campaign, Client, Delivery, Event, Subscription, Suppression
from ..models.audience import CHANNEL_EMAIL, SUB_SUBSCRIBED, SUB_UNSUBSCRIBED
from . import DomainError
from . import suppression as suppression_svc
from .audit import record


def _(message: str) -> str:
    return gettext(message) if has_request_context() else message


SOFT_BOUNCE_LIMIT = 3
SOFT_BOUNCE_WINDOW = timedelta(days=15)
# Suppression reasons a recipient may lift themselves by re-subscribing on the preferences page: the ones
# they created. Bounces, complaints and entries made by the client or the agency stay.
SELF_SERVICE_REASONS = ("unsubscribe", "list_unsubscribe")


def record_event(
    delivery: Delivery,
    kind: str,
    provider_event_id: str,
    *,
    bounce_class: str = "",
    status_code: str = "",
    detail: str = "",
    link_index: int | None = None,
    source: str = "portal",
) -> Event | None:
    """Add one event for the delivery; None when this source already reported this event id."""
    provider_event_id = provider_event_id[:255]
    exists = db.session.scalar(
        select(Event.id).where(
            Event.client_id == delivery.client_id,
            Event.source == source,
            Event.provider_event_id == provider_event_id,
        )
    )
    if exists is not None:
        return None
    event = Event(
        agency_id=delivery.agency_id,
        client_id=delivery.client_id,
        campaign_id=delivery.campaign_id,
        delivery_id=delivery.id,
        contact_id=delivery.contact_id,
        kind=kind,
        channel=delivery.channel or CHANNEL_EMAIL,
        source=source,
        bounce_class=bounce_class,
        status_code=status_code[:16],
        detail=detail[:2000],
        link_index=link_index,
        provider_event_id=provider_event_id,
        created_at=datetime.now(UTC),
    )
    try:
        with db.session.begin_nested():  # a concurrent duplicate loses on the unique index, not the request
            db.session.add(event)
    except IntegrityError:
        return None
    return event


def unique_id(prefix: str, delivery: Delivery) -> str:
    """For events that may happen many times (opens, clicks): every request is its own event."""
    return f"{prefix}:{delivery.id}:{uuid.uuid4().hex}"


def _client(delivery: Delivery) -> Client:
    client = db.session.scalar(select(Client).where(Client.id == delivery.client_id))
    if client is None:
        raise DomainError("the account of this message no longer exists")
    return client


def _campaign_lists(delivery: Delivery) -> list[int]:
    audience = db.session.scalar(select(Campaign.audience).where(Campaign.id == delivery.campaign_id)) or {}
    return [int(i) for i in audience.get("lists", []) if str(i).isdigit()]


def apply_unsubscribe(delivery: Delivery, *, source: str = "one-click") -> bool:
    """RFC 8058 one-click (or the mailto: address, or the confirmation page's button): the address is
    suppressed for this client with reason list_unsubscribe, the campaign's lists are unsubscribed, one
    unsubscribe event. Repeats change nothing; True when this call made the change."""
    client = _client(delivery)
    already = suppression_svc.suppression_reason(client, CHANNEL_EMAIL, delivery.address) is not None
    if not already:
        suppression_svc.add(
            actor=None,
            client=client,
            channel=CHANNEL_EMAIL,
            raw_address=delivery.address,
            reason="list_unsubscribe",
            source=source,
        )
    lists, left = _campaign_lists(delivery), []
    if lists:
        subs = db.session.scalars(
            select(Subscription).where(
                Subscription.contact_id == delivery.contact_id,
                Subscription.list_id.in_(lists),
                Subscription.channel == CHANNEL_EMAIL,
                Subscription.status == SUB_SUBSCRIBED,
            )
        )
        for sub in subs:
            sub.status = SUB_UNSUBSCRIBED
            left.append((sub.list_id, sub.channel, -1))
    event = record_event(delivery, "unsubscribe", f"unsubscribe:{delivery.id}", detail=source)
    db.session.flush()
    adjust_counts(client.id, left)
    return event is not None or not already


def unsubscribe_list(delivery: Delivery, list_id: int) -> bool:
    """Preferences page: leave one list. False when the contact was not subscribed to it."""
    sub = _subscription(delivery, list_id)
    if sub.status != SUB_SUBSCRIBED:
        return False
    sub.status = SUB_UNSUBSCRIBED
    record_event(delivery, "unsubscribe", unique_id("preferences", delivery), detail=f"list:{list_id}")
    db.session.flush()
    adjust_counts(delivery.client_id, [(sub.list_id, sub.channel, -1)])
    return True


def resubscribe_list(delivery: Delivery, list_id: int, *, ip: str = "") -> bool:
    """Preferences page: join a list again. Refused (DomainError) while a bounce, a complaint or an entry
    made by the client or the agency suppresses the address; the recipient's own unsubscribe entry is
    lifted (the recipient asked for mail again, on a page only their token opens)."""
    sub = _subscription(delivery, list_id)
    if sub.status == SUB_SUBSCRIBED:
        return False
    client = _client(delivery)
    reason = suppression_svc.suppression_reason(client, CHANNEL_EMAIL, delivery.address)
    if reason is not None and reason not in SELF_SERVICE_REASONS:
        raise DomainError(
            _("This address cannot receive this account's mail. Contact the sender to be added again.")
        )
    own = db.session.scalar(
        select(Suppression).where(
            Suppression.client_id == client.id,
            Suppression.channel == CHANNEL_EMAIL,
            Suppression.address == delivery.address,
        )
    )
    if own is not None:
        # A platform or agency block with a self-service reason cannot exist (their reasons differ), so
        # after this the address is free for this client.
        record(
            "suppression.removed",
            actor=None,
            agency_id=client.agency_id,
            client_id=client.id,
            target=own.address,
            reason=own.reason,
            why="the recipient subscribed again on the preferences page",
        )
        db.session.delete(own)
    sub.status = SUB_SUBSCRIBED
    sub.consent_at = datetime.now(UTC)
    sub.consent_ip = ip[:64]
    sub.consent_source = "preferences"
    db.session.flush()
    adjust_counts(client.id, [(sub.list_id, sub.channel, 1)])
    return True


def unsubscribe_everything(delivery: Delivery) -> bool:
    """Preferences page: no more mail from this client at all (client-level suppression 'unsubscribe')."""
    client = _client(delivery)
    if suppression_svc.suppression_reason(client, CHANNEL_EMAIL, delivery.address) is not None:
        return False
    suppression_svc.add(
        actor=None,
        client=client,
        channel=CHANNEL_EMAIL,
        raw_address=delivery.address,
        reason="unsubscribe",
        source="preferences",
    )
    record_event(delivery, "unsubscribe", unique_id("preferences-all", delivery), detail="all")
    db.session.flush()
    return True


def _subscription(delivery: Delivery, list_id: int) -> Subscription:
    from . import NotFound

    sub = db.session.scalar(
        select(Subscription).where(
            Subscription.contact_id == delivery.contact_id,
            Subscription.list_id == list_id,
            Subscription.channel == CHANNEL_EMAIL,
        )
    )
    if sub is None:
        raise NotFound("subscription")
    return sub


def apply_bounce(
    delivery: Delivery,
    *,
    bounce_class: str,
    status_code: str,
    detail: str,
    provider_event_id: str,
    source: str = "inbound",
) -> Event | None:
    """hard → suppress at once; soft → suppress after SOFT_BOUNCE_LIMIT within SOFT_BOUNCE_WINDOW for this
    address and client; policy → the agency is alerted, the address is not at fault. The same path for
    a DSN received by mail and for the relay's own refusal at RCPT/DATA (source "smtp")."""
    event = record_event(
        delivery,
        "bounce",
        provider_event_id,
        bounce_class=bounce_class,
        status_code=status_code,
        detail=detail,
        source=source,
    )
    if event is None:
        return None
    db.session.flush()
    if bounce_class == "hard":
        _suppress(delivery, "hard_bounce", "bounce")
    elif bounce_class == "soft":
        if _soft_bounces(delivery) >= SOFT_BOUNCE_LIMIT:
            _suppress(delivery, "soft_bounce_limit", "bounce")
    elif bounce_class == "policy":
        alert(delivery, kind="policy", status_code=status_code, detail=detail, key=provider_event_id)
    return event


def _soft_bounces(delivery: Delivery) -> int:
    since = datetime.now(UTC) - SOFT_BOUNCE_WINDOW
    return (
        db.session.scalar(
            select(func.count(Event.id))
            .join(Delivery, Delivery.id == Event.delivery_id)
            .where(
                Event.client_id == delivery.client_id,
                Event.kind == "bounce",
                Event.bounce_class == "soft",
                Event.created_at >= since,
                Delivery.client_id == delivery.client_id,
                Delivery.address == delivery.address,
            )
        )
        or 0
    )


def apply_complaint(
    delivery: Delivery, *, feedback_type: str, provider_event_id: str, source: str = "inbound"
) -> Event | None:
    """ARF abuse/fraud/virus/other: complaint event and suppression for this delivery's client only. The
    caller (a feature: inbound mail, a provider pull) then checks the client's complaint rate
    (services.reputation.check_client), which may pause its sends."""
    event = record_event(delivery, "complaint", provider_event_id, detail=feedback_type, source=source)
    if event is None:
        return None
    db.session.flush()
    _suppress(delivery, "complaint", "complaint")
    return event


def alert(delivery: Delivery, *, kind: str, status_code: str = "", detail: str = "", key: str = "") -> bool:
    """A deliverability alert for the agency (policy rejections, authentication failures). Once per key."""
    target = (key or f"{kind}:{delivery.id}")[:255]
    exists = db.session.scalar(
        select(AuditEvent.id).where(AuditEvent.action == "deliverability.alert", AuditEvent.target == target)
    )
    if exists is not None:
        return False
    record(
        "deliverability.alert",
        actor=None,
        agency_id=delivery.agency_id,
        client_id=delivery.client_id,
        target=target,
        kind=kind,
        status_code=status_code,
        detail=detail,
        campaign_id=delivery.campaign_id,
    )
    return True


def _suppress(delivery: Delivery, reason: str, source: str) -> None:
    suppression_svc.add(
        actor=None,
        client=_client(delivery),
        channel=CHANNEL_EMAIL,
        raw_address=delivery.address,
        reason=reason,
        source=source,
    )


def record_pulled(client: Client, source: str, rows: list[dict]) -> list[dict]:
    """Record events read back from a provider, set-based: one INSERT … ON CONFLICT DO NOTHING for the
    whole page (PostgreSQL and SQLite alike), keyed by (client, source, provider event id). Returns the
    rows that were new, with their `id`, so that side effects (suppression) follow only first sightings.

    Each row names delivery_id, contact_id, campaign_id, kind and provider_event_id, and may name
    channel, bounce_class, status_code, detail, link_index and created_at (default: now)."""
    if not rows:
        return []
    now = datetime.now(UTC)
    values, seen = [], set()
    for row in rows:
        key = str(row["provider_event_id"])[:255]
        if key in seen:
            continue  # the same event twice in one page
        seen.add(key)
        values.append(
            {
                "agency_id": client.agency_id,
                "client_id": client.id,
                "campaign_id": row.get("campaign_id"),
                "delivery_id": row.get("delivery_id"),
                "contact_id": row.get("contact_id"),
                "kind": row["kind"],
                "channel": row.get("channel", CHANNEL_EMAIL),
                "source": source,
                "bounce_class": row.get("bounce_class", ""),
                "status_code": str(row.get("status_code", ""))[:16],
                "detail": str(row.get("detail", ""))[:2000],
                "link_index": row.get("link_index"),
                "provider_event_id": key,
                "created_at": row.get("created_at") or now,
            }
        )
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Event)
        .values(values)
        .on_conflict_do_nothing(index_elements=["client_id", "source", "provider_event_id"])
        .returning(Event.id, Event.provider_event_id)
    )
    new = {key: event_id for event_id, key in db.session.execute(statement).all()}
    return [{**v, "id": new[v["provider_event_id"]]} for v in values if v["provider_event_id"] in new]
