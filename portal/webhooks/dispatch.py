"""From the events feed to deliveries, and deliveries to the endpoint.

- `dispatch_client`: for each enabled endpoint of one client, read the events feed from the
  endpoint's own cursor (the same feed the API serves, so webhooks and pulls never disagree), turn the
  items the endpoint chose into `WebhookDelivery` rows (message id derived from endpoint + feed item:
  re-reading a page never makes a second delivery), then move the cursor — all in one transaction.
- `deliver`: one attempt of one delivery through the outbound guard; 2xx succeeds; 410 Gone disables the
  endpoint; anything else is retried with exponential backoff and jitter over about a day
  (RETRY_SCHEDULE); a delivery out of retries fails and the endpoint is disabled with a notice to the
  client's admins. The worker calls it; a request never does.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from .. import feed, netguard
from ..extensions import db
from ..models import Agency, Campaign, Client, ContactImport, Membership, User, Webhook, WebhookDelivery
from ..models.user import ROLE_CLIENT_ADMIN
from ..models.webservice import DELIVERY_FAILED, DELIVERY_PENDING, DELIVERY_SUCCEEDED
from ..services.audit import record
from ..services.notifications import queue_email
from ..tenancy import all_tenants
from .endpoints import allow_localhost, secrets_in_use
from .signing import headers

# Seconds after each failed attempt (Standard Webhooks' guidance): about 21 hours in all, 8 attempts.
RETRY_SCHEDULE = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 4 * 3600)
JITTER = 0.2
MAX_LOG = 20
MILESTONE_WINDOW = timedelta(days=7)
IMPORT_FINAL = ("done", "failed", "cancelled")
IMPORT_COUNTS = (
    "rows_total",
    "created_count",
    "updated_count",
    "invalid_count",
    "duplicate_count",
    "suppressed_count",
)
CAMPAIGN_FINAL = ("sent", "cancelled", "failed")
FEED_PAGES = 10  # per endpoint and dispatch round (1,000 items); the next round goes on

# Feed item type → the event an endpoint subscribes to.
FEED_TO_EVENT = {
    "subscription.subscribed": "subscribe",
    "subscription.unsubscribed": "unsubscribe",
    "email.unsubscribed": "unsubscribe",
    "email.bounced": "bounce",
    "subscription.bounced": "bounce",
    "email.complained": "complaint",
    "subscription.complained": "complaint",
    "email.delivered": "delivered",
    "email.opened": "open",
    "email.clicked": "click",
    "sms.delivered": "sms_delivery",
    "sms.bounced": "sms_delivery",
}


def dispatch_client(client_id: int) -> int:
    """New deliveries for every enabled endpoint of this client; returns how many were made. Every query
    names the client (the periodic job runs with the tenant filter opted out)."""
    made = 0
    hooks = (
        select(Webhook).where(Webhook.client_id == client_id, Webhook.enabled.is_(True)).order_by(Webhook.id)
    )
    for hook in db.session.scalars(hooks):
        cursor = feed.Cursor.decode(hook.feed_cursor)
        for _ in range(FEED_PAGES):
            page = feed.read(hook.client_id, cursor, 100)
            for item in page.items:
                event = FEED_TO_EVENT.get(item["type"])
                if event in (hook.events or []):
                    made += _add_delivery(hook, f"msg_{hook.id}_{item['id']}", event, item)
            cursor = page.cursor
            if not page.items:
                break
        hook.feed_cursor = cursor.encode()
        made += _milestones(hook)
    db.session.flush()
    return made


def _milestones(hook: Webhook) -> int:
    """Imports and campaigns that finished since the endpoint exists (a week at most). Not feed rows:
    each round looks at the whole window and the message id (import or campaign id) keeps it once."""
    since = max(hook.created_at, datetime.now(UTC) - MILESTONE_WINDOW)
    made = 0
    if "import_finished" in (hook.events or []):
        imports = db.session.scalars(
            select(ContactImport).where(
                ContactImport.client_id == hook.client_id,
                ContactImport.finished_at >= since,
                ContactImport.status.in_(IMPORT_FINAL),
            )
        )
        for imp in imports:
            data = {"import_id": imp.id, "status": imp.status, "message": imp.message}
            data |= {k: getattr(imp, k) for k in IMPORT_COUNTS}
            item = {
                "id": f"imp_{imp.id}",
                "type": "import.finished",
                "occurred_at": feed.iso(imp.finished_at),
                "data": data,
            }
            made += _add_delivery(hook, f"msg_{hook.id}_imp_{imp.id}", "import_finished", item)
    if "campaign_finished" in (hook.events or []):
        campaigns = db.session.scalars(
            select(Campaign).where(
                Campaign.client_id == hook.client_id,
                Campaign.finished_at >= since,
                Campaign.status.in_(CAMPAIGN_FINAL),
            )
        )
        for c in campaigns:
            data = {"campaign_id": c.id, "channel": c.channel, "status": c.status, "recipients": c.recipients}
            item = {
                "id": f"cmp_{c.id}",
                "type": "campaign.finished",
                "occurred_at": feed.iso(c.finished_at),
                "data": data,
            }
            made += _add_delivery(hook, f"msg_{hook.id}_cmp_{c.id}", "campaign_finished", item)
    return made


def _add_delivery(hook: Webhook, message_id: str, event: str, item: dict) -> int:
    exists = db.session.scalar(
        select(WebhookDelivery.id).where(
            WebhookDelivery.webhook_id == hook.id, WebhookDelivery.message_id == message_id
        )
    )
    if exists is not None:
        return 0
    payload = {"type": event, "timestamp": item["occurred_at"], "data": item}
    db.session.add(
        WebhookDelivery(
            agency_id=hook.agency_id,
            client_id=hook.client_id,
            webhook_id=hook.id,
            message_id=message_id,
            event_type=event,
            payload=json.dumps(payload, separators=(",", ":"), sort_keys=True),
            status=DELIVERY_PENDING,
            next_attempt_at=datetime.now(UTC),
        )
    )
    return 1


def due_deliveries(now: datetime | None = None, limit: int = 200) -> list[int]:
    now = now or datetime.now(UTC)
    return list(
        db.session.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status == DELIVERY_PENDING, WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
    )


def backoff(attempts: int) -> float | None:
    """Seconds before the next attempt after `attempts` failures, with ±20% jitter; None: give up."""
    if attempts > len(RETRY_SCHEDULE):
        return None
    base = RETRY_SCHEDULE[attempts - 1]
    return base * (1 + random.uniform(-JITTER, JITTER))


def deliver(delivery_id: int, now: datetime | None = None) -> str:
    """One attempt (the state is re-checked first: a job that runs twice does nothing the second time)."""
    now = now or datetime.now(UTC)
    d = db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id))
    if d is None or d.status != DELIVERY_PENDING or (d.next_attempt_at and d.next_attempt_at > now):
        return "skipped"
    hook = db.session.scalar(select(Webhook).where(Webhook.id == d.webhook_id))
    if hook is None or not hook.enabled:
        d.status, d.last_error = DELIVERY_FAILED, "The endpoint is disabled."
        return "failed"
    body = d.payload.encode()
    sent_headers = headers(secrets_in_use(hook, now), d.message_id, int(now.timestamp()), body)
    code, error, elapsed = None, "", None
    try:
        answer = netguard.post(hook.url, body, sent_headers, allow_localhost=allow_localhost())
        code, elapsed = answer.status, answer.elapsed_ms
    except netguard.Blocked as exc:
        error = str(exc)
        record(
            "webhook.blocked",
            actor=None,
            agency_id=hook.agency_id,
            client_id=hook.client_id,
            target=hook.url,
            reason=error,
        )
    except Exception as exc:  # noqa: BLE001  (connection refused, TLS, timeout: all are the endpoint's failure)
        error = f"{type(exc).__name__}: {exc}"[:500]
    d.attempts += 1
    d.last_status_code, d.last_error, d.last_duration_ms = code, error, elapsed
    d.attempt_log = (
        list(d.attempt_log or []) + [{"at": feed.iso(now), "code": code, "ms": elapsed, "error": error}]
    )[-MAX_LOG:]
    if code is not None and 200 <= code < 300:
        d.status, d.delivered_at, d.next_attempt_at = DELIVERY_SUCCEEDED, now, None
        hook.failing_since = None
        return "succeeded"
    hook.failing_since = hook.failing_since or now
    if code == 410:
        d.status, d.next_attempt_at = DELIVERY_FAILED, None
        disable(hook, "The endpoint answered 410 Gone.")
        return "failed"
    wait = backoff(d.attempts)
    if wait is None:
        d.status, d.next_attempt_at = DELIVERY_FAILED, None
        disable(hook, f"Deliveries kept failing for a day (last: {code or error}).")
        return "failed"
    d.next_attempt_at = now + timedelta(seconds=wait)
    return "retry"


def disable(hook: Webhook, reason: str) -> None:
    """Turn the endpoint off, fail what waits for it, tell the client's admins (after the commit)."""
    if not hook.enabled:
        return
    hook.enabled, hook.disabled_reason = False, reason
    db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == hook.id, WebhookDelivery.status == DELIVERY_PENDING)
        .values(status=DELIVERY_FAILED, last_error="The endpoint was disabled.", next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    record(
        "webhook.disabled",
        actor=None,
        agency_id=hook.agency_id,
        client_id=hook.client_id,
        target=hook.url,
        reason=reason,
    )
    client = db.session.scalar(select(Client).where(Client.id == hook.client_id))
    with all_tenants():
        agency = db.session.get(Agency, hook.agency_id)
    admins = db.session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.client_id == hook.client_id, Membership.role == ROLE_CLIENT_ADMIN)
    )
    for user in admins:
        queue_email(
            agency=agency,
            user=user,
            template="webhook_disabled",
            subject=f"A webhook of {client.name if client else ''} was turned off",
            url=hook.url,
            reason=reason,
        )


def replay(delivery: WebhookDelivery) -> None:
    """Send again (same webhook-id, so receivers can recognise it) as soon as a worker takes it."""
    delivery.status, delivery.next_attempt_at = DELIVERY_PENDING, datetime.now(UTC)
    delivery.attempts = 0
