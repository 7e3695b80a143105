"""What the delivery loop writes for each answer, and what it does about backend failures.

Every mark is conditional on the worker's claim (`claim_token` and status 'claimed') and its row count is
checked: a mark that finds no row means the lease was lost, and the worker stops before sending more
(the next message, already on the wire, is withdrawn before its content: marks.py). Marks are built here
and written by marks.py.
`attempts` counts hand-overs actually tried: a row is counted when the backend answered about it (or,
after a crash, by the sweeper for the rows that were on the wire), never for rows of a claim that were
given back untried.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select, text, update

from ..backends.base import RecipientRefused
from ..extensions import db
from ..inbound.classify import classify_status
from ..models import Agency, Campaign, Client, Delivery
from ..models.campaign import CAMPAIGN_SENDING
from ..services import events
from ..tenancy import all_tenants
from . import control
from .backend import forget_backend
from .lease import Lease
from .marks import Mark, Marks

BREAKER_LIMIT = 4  # consecutive backend failures (spaced by the backoff) before the campaign pauses

_SENT = text(
    "UPDATE delivery SET status = 'sent', sent_at = :now, provider_message_id = :answer, lease_until = NULL, "
    "attempts = attempts + 1 WHERE id = :id AND claim_token = :tok AND status = 'claimed'"
)
_FAILED = text(
    "UPDATE delivery SET status = 'failed', error = :error, lease_until = NULL, attempts = attempts + :tried "
    "WHERE id = :id AND claim_token = :tok AND status = 'claimed'"
)
_DEFER = text(
    "UPDATE delivery SET attempts = attempts + 1, error = :error, claim_token = NULL, lease_until = NULL, "
    "retry_after = :retry, status = CASE WHEN attempts + 1 >= :max THEN 'failed' ELSE 'pending' END "
    "WHERE id = :id AND claim_token = :tok AND status = 'claimed'"
)


def _settings():
    return current_app.config["PORTAL_SETTINGS"]


def _jitter() -> float:
    return random.uniform(0.75, 1.25)


def sent(token: str, delivery_id: int, answer: str) -> Mark:
    return _SENT, {"now": datetime.now(UTC), "answer": answer, "id": delivery_id, "tok": token}


def failed(token: str, delivery_id: int, error: str, *, tried: bool = False) -> Mark:
    """This delivery cannot be sent (its message could not be built, or it was refused for good)."""
    return _FAILED, {"error": error[:500], "tried": int(tried), "id": delivery_id, "tok": token}


def deferred(token: str, delivery_id: int, error: str, max_attempts: int) -> Mark:
    """A temporary refusal of this recipient: try again later, up to `max_attempts` hand-overs."""
    retry = datetime.now(UTC) + timedelta(seconds=_settings().send_retry_seconds * 4 * _jitter())
    return _DEFER, {
        "error": error[:500],
        "retry": retry,
        "max": max_attempts,
        "id": delivery_id,
        "tok": token,
    }


def refused(plan, marks: Marks, lease: Lease, token: str, delivery_id: int, exc: RecipientRefused) -> bool:
    """Failed for good; a bounce (the receiver's refusal, not ours) goes through the events service like
    an inbound DSN, so the hard-bounce suppression and the soft-bounce limit apply the same way."""
    if not marks.write(lease, failed(token, delivery_id, exc.detail, tried=True)):
        return False
    if exc.bounce:
        delivery = db.session.scalar(select(Delivery).where(Delivery.id == delivery_id))
        events.apply_bounce(
            delivery,
            bounce_class=classify_status(exc.status),
            status_code=exc.status,
            detail=exc.detail,
            provider_event_id=f"smtp-sync:{delivery_id}",
            source="smtp",
        )
        db.session.commit()
    return True


def mark(ids: list[int], token: str, status: str, *, error: str = "") -> None:
    """Rows of a claim that never reach the backend (suppressed since materialisation)."""
    values = {"status": status, "lease_until": None}
    if error:
        values["error"] = error
    db.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.claim_token == token, Delivery.status == "claimed")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def release(token: str, lease: Lease, *, cancelled: bool = False) -> None:
    """Give this claim's unsent rows back, attempts untouched (they were not tried); skipped when the
    campaign was cancelled, so nothing of a cancelled campaign stays pending."""
    db.session.rollback()
    with lease.lock:
        lease.released(lease.held)
        db.session.execute(
            update(Delivery)
            .where(Delivery.claim_token == token, Delivery.status == "claimed")
            .values(
                status="skipped" if cancelled else "pending",
                claim_token=None,
                lease_until=None,
                **({"error": "campaign cancelled"} if cancelled else {}),
            )
            .execution_options(synchronize_session=False)
        )
        if cancelled:  # rows this worker deferred after the cancel went back to pending: they end too
            db.session.execute(
                update(Delivery)
                .where(Delivery.campaign_id == lease.campaign_id, Delivery.status == "pending")
                .values(status="skipped", error="campaign cancelled")
                .execution_options(synchronize_session=False)
            )
        db.session.commit()


def backend_failed(plan, detail: str) -> None:
    """Circuit breaker: the next try waits (doubling, with jitter); after BREAKER_LIMIT failures in a row
    the campaign pauses with a message the client can read. Several workers failing at the same moment
    count once: only a worker that finds no wait in progress counts its failure."""
    forget_backend(plan.connection_id)
    now = datetime.now(UTC)
    campaign = db.session.scalar(select(Campaign).where(Campaign.id == plan.campaign_id))
    failures = (campaign.backend_failures or 0) + 1
    wait = _settings().send_retry_seconds * (2 ** (failures - 1)) * _jitter()
    counted = db.session.execute(
        update(Campaign)
        .where(
            Campaign.id == plan.campaign_id,
            Campaign.backend_failures == campaign.backend_failures,
            (Campaign.retry_at.is_(None)) | (Campaign.retry_at <= now),
        )
        .values(backend_failures=failures, retry_at=now + timedelta(seconds=wait))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    current_app.logger.warning("campaign %s: backend failure %s: %s", plan.campaign_id, failures, detail)
    if counted and failures >= BREAKER_LIMIT:
        db.session.refresh(campaign)
        if campaign.status == CAMPAIGN_SENDING:
            control.pause(
                actor=None,
                campaign=campaign,
                reason=(
                    f"Sending paused after {failures} failed attempts to reach the delivery service "
                    f"(last: {detail}). Nothing was lost: resume the campaign once the problem is solved."
                ),
            )
            db.session.commit()


def backend_worked(plan) -> None:
    """A message went through: the breaker closes again."""
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == plan.campaign_id, Campaign.backend_failures > 0)
        .values(backend_failures=0, retry_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def pause_if_suspended(campaign: Campaign) -> bool:
    """Workers look at the account before every batch: a suspended client or agency pauses the send
    (audited). Reactivation does not resume it: someone decides to."""
    client = db.session.scalar(select(Client).where(Client.id == campaign.client_id))
    with all_tenants():
        agency = db.session.get(Agency, campaign.agency_id)
    if client is not None and client.is_active and agency is not None and agency.is_active:
        return False
    who = "agency" if agency is None or not agency.is_active else "account"
    control.pause(actor=None, campaign=campaign, reason=f"Sending paused: the {who} was suspended.")
    return True
