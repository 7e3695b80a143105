"""The delivery loop, the same for every per-message backend: claim a batch with a lease, re-check consent
and suppression, hand over one message at a time, mark each row, finish the campaign.

Exactly once, as far as the wire allows: a row is marked sent (conditionally on this worker's claim)
right after the backend accepted its message; a killed worker loses at most the message in flight, whose
row the sweeper puts back once its lease expires. The lease is renewed while the worker holds rows
(lease.py), so a slow backend never lets another worker take rows that are still being sent.

Who is at fault decides what happens (backends/base.py): a recipient's refusal fails that delivery only
(and is recorded as a bounce through the events service, like an inbound DSN); a recipient's temporary
refusal defers that row; a backend failure gives every unsent row back untouched and trips the circuit
breaker (outcomes.py). Suspension, pause and cancel stop the loop before the next message.
"""

from __future__ import annotations

import secrets
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select, text, update

from ..backends.base import BackendError, BackendUnavailable, RecipientRefused, TryLater, Withdrawn
from ..concurrency import prompt_gil_handover
from ..crypto import SecretError
from ..extensions import db
from ..keys.unreadable import SEND_REASON, record_unreadable
from ..models import Campaign
from ..models.campaign import CAMPAIGN_CANCELLED, CAMPAIGN_SENDING, CAMPAIGN_SENT, DELIVERY_SKIPPED
from . import control, outcomes
from .audience import consent_lists, still_allowed
from .backend import message_backend
from .email_content import EmailContent, MessageError, compose, email_content, recipient_values
from .lease import Lease
from .marks import Marks
from .sms_content import SmsContent, compose_sms, hold_quiet_hours, sms_content

BATCH = 100
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class SendPlan:
    """What one worker needs to send a campaign, built once per campaign version."""

    campaign_id: int
    client_id: int
    agency_id: int
    channel: str
    connection_id: int | None
    lists: list[int] | None  # consent lists of the send-time re-check (None: any list of the client)
    content: EmailContent | SmsContent


@dataclass
class Claim:
    token: str
    rows: list[tuple[int, int, str]]  # (delivery id, contact id, address), in id order


_plans: dict[tuple[int, str], SendPlan] = {}


def _plan(campaign: Campaign) -> SendPlan:
    key = (campaign.id, campaign.updated_at.isoformat() if campaign.updated_at else "")
    if key not in _plans:
        _plans.clear()  # one campaign at a time per worker is the common case; keep memory flat
        _plans[key] = SendPlan(
            campaign_id=campaign.id,
            client_id=campaign.client_id,
            agency_id=campaign.agency_id,
            channel=campaign.channel or "email",
            connection_id=campaign.connection_id,
            lists=consent_lists(campaign.audience or {}),
            content=sms_content(campaign) if campaign.channel == "sms" else email_content(campaign),
        )
    return _plans[key]


def _lease_seconds() -> int:
    return current_app.config["PORTAL_SETTINGS"].send_lease_seconds


def _claim(campaign_id: int, client_id: int, pg: bool) -> Claim:
    token = secrets.token_hex(8)
    lock = " FOR UPDATE SKIP LOCKED" if pg else ""
    now = datetime.now(UTC)
    rows = db.session.execute(
        text(
            "UPDATE delivery SET status = 'claimed', claim_token = :tok, lease_until = :lease "
            "WHERE id IN (SELECT id FROM delivery WHERE campaign_id = :cid AND client_id = :cl "
            "AND status = 'pending' AND (retry_after IS NULL OR retry_after <= :now) ORDER BY id "
            f"LIMIT :n{lock}) RETURNING id, contact_id, address"
        ),
        {
            "tok": token,
            "lease": now + timedelta(seconds=_lease_seconds()),
            "cid": campaign_id,
            "cl": client_id,
            "now": now,
            "n": BATCH,
        },
    ).all()
    db.session.commit()
    return Claim(token, sorted((r[0], r[1], r[2]) for r in rows))


def send_batches(campaign_id: int) -> int:
    """Claim and send until nothing is left, the campaign stops being 'sending', or the backend fails."""
    pg = db.engine.dialect.name == "postgresql"
    sent = 0
    while True:
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id))
        if campaign is None or campaign.status != CAMPAIGN_SENDING:
            return sent  # paused, cancelled, or another tenant's id: nothing to do
        if campaign.retry_at is not None and campaign.retry_at > datetime.now(UTC):
            return sent  # the backend failed a moment ago: the sweeper queues the next try
        if outcomes.pause_if_suspended(campaign):
            db.session.commit()
            return sent
        try:
            plan = _plan(campaign)
        except SecretError:
            _stop_unreadable(campaign_id, "signing key (DKIM) of the sender domain")
            return sent
        claim = _claim(campaign_id, plan.client_id, pg)
        if not claim.rows:
            finish_if_done(campaign_id)
            db.session.commit()
            return sent
        done, go_on = _send_claim(plan, claim)
        sent += done
        if not go_on:
            return sent


def _stop_unreadable(campaign_id: int, what: str) -> None:
    """A secret the send needs cannot be decrypted: retrying cannot help, so the campaign pauses once
    with a reason the client reads, and the operator gets one security event (portal/keys)."""
    campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id))
    if campaign is not None and campaign.status == CAMPAIGN_SENDING:
        control.pause(actor=None, campaign=campaign, reason=SEND_REASON.format(what=what))
        record_unreadable(
            what=what, target=f"campaign {campaign.id} ({campaign.name})", agency_id=campaign.agency_id
        )
    db.session.commit()


def _send_claim(plan: SendPlan, claim: Claim) -> tuple[int, bool]:
    """Send one claimed batch; returns (messages sent, whether to claim the next batch)."""
    allowed = still_allowed(plan.client_id, plan.agency_id, plan.channel, plan.lists, claim.rows)
    skipped = [r[0] for r in claim.rows if r[0] not in allowed]
    if skipped:
        outcomes.mark(
            skipped, claim.token, DELIVERY_SKIPPED, error="suppressed or unsubscribed before sending"
        )
    rows = [r for r in claim.rows if r[0] in allowed]
    if plan.channel == "sms":  # quiet hours: numbers where it is night now wait (sms/quiet.py)
        rows = hold_quiet_hours(plan.client_id, claim.token, rows)
    if not rows:
        return 0, True
    values = recipient_values(plan.client_id, [r[1] for r in rows])
    with Lease(claim.token, plan.campaign_id, plan.client_id, len(rows), _lease_seconds()) as lease:
        try:
            sent = _hand_over(plan, claim.token, rows, values, lease)
        except BackendUnavailable as exc:
            outcomes.release(claim.token, lease)
            outcomes.backend_failed(plan, str(exc))
            return 0, False
        except SecretError:
            outcomes.release(claim.token, lease)
            _stop_unreadable(plan.campaign_id, "delivery credentials")
            return 0, False
        if lease.lost:
            current_app.logger.warning("claim %s lost its lease; stopping", claim.token)
            return sent, False
        if lease.halted or lease.held:
            cancelled = lease.halted == CAMPAIGN_CANCELLED
            outcomes.release(claim.token, lease, cancelled=cancelled)
            return sent, False
    if sent:
        outcomes.backend_worked(plan)
    return sent, True


@dataclass
class _InFlight:
    future: Future
    delivery_id: int


def _hand_over(plan: SendPlan, token: str, rows, values: dict, lease: Lease) -> int:
    """Three threads, still one message in flight: this one renders, builds and signs the next message
    while the backend thread has the previous one on the wire and the mark thread commits the one before
    (marks.py). The backend asks for that mark before the content of its message goes (`ready`), so a
    message becomes irrevocable only once the previous one is recorded as sent. The backend thread waits
    on each reply and then needs the GIL back at once (portal/concurrency.py)."""
    backend = message_backend(plan.connection_id)
    build = compose_sms if plan.channel == "sms" else compose
    sent = 0
    in_flight: _InFlight | None = None
    marking: Future | None = None  # the "sent" mark of the last accepted message
    with (
        prompt_gil_handover(),
        Marks(db.engine) as marks,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="backend") as wire,
    ):
        try:
            for delivery_id, contact_id, address in rows:
                try:
                    message = build(
                        plan.content, delivery_id, address, values.get(contact_id, {"email": address})
                    )
                except MessageError as exc:
                    marks.write(lease, outcomes.failed(token, delivery_id, str(exc)))
                    continue
                if in_flight is not None:
                    previous, in_flight = in_flight, None
                    done, marking, go_on = _collect(plan, token, previous, marking, marks, lease)
                    sent += done
                    if not go_on:
                        break  # lease lost: the rows are someone else's now
                if not lease.may_send():
                    break
                ready = _confirmed(marking) if marking is not None else None
                in_flight = _InFlight(wire.submit(backend.send, message, ready), delivery_id)
        finally:
            # Whatever happened, the message on the wire and the last mark are settled before leaving.
            if in_flight is not None:
                done, marking, _ = _collect(plan, token, in_flight, marking, marks, lease)
                sent += done
            if marking is not None:
                sent += marking.result()
    return sent


def _confirmed(marking: Future):
    """The `ready` of the next message: its content goes only once this mark committed (and matched)."""
    return lambda: marking.result()


def _collect(
    plan: SendPlan, token: str, flight: _InFlight, marking: Future | None, marks: Marks, lease: Lease
) -> tuple[int, Future | None, bool]:
    """Wait for the message on the wire, settle the mark of the one before, record the new answer.
    Returns (messages confirmed sent, the mark now committing, whether the loop may go on)."""
    outcome = _outcome(flight)
    done = 0
    if marking is not None:
        if not marking.result():
            return 0, None, False  # the message on the wire was withdrawn (or refused before its content)
        done = 1
    recorded = _record(plan, token, flight.delivery_id, outcome, marks, lease)
    if recorded is False:
        return done, None, False
    return done, recorded if isinstance(recorded, Future) else None, True


def _outcome(flight: _InFlight) -> str | BackendError:
    """Wait for the backend's answer: its id for the message, or the refusal about this recipient. A
    backend failure raises: nothing else is on the wire when it does."""
    try:
        return flight.future.result()
    except (RecipientRefused, TryLater, Withdrawn) as exc:
        return exc


def _record(
    plan: SendPlan, token: str, delivery_id: int, outcome: str | BackendError, marks: Marks, lease: Lease
) -> Future | bool:
    """Record one answer: an accepted message's mark is left committing (its Future); a refusal is
    recorded at once (True, or False when the row was no longer this worker's)."""
    if isinstance(outcome, str):
        return marks.submit(lease, outcomes.sent(token, delivery_id, outcome))
    if isinstance(outcome, Withdrawn):
        return False  # the previous mark failed: nothing was delivered, the worker stops
    if isinstance(outcome, RecipientRefused):
        return outcomes.refused(plan, marks, lease, token, delivery_id, outcome)
    return marks.write(lease, outcomes.deferred(token, delivery_id, str(outcome), MAX_ATTEMPTS))


def finish_if_done(campaign_id: int) -> bool:
    """sending → sent once no row is pending or claimed (conditional: only one worker wins)."""
    left = db.session.execute(
        text("SELECT count(*) FROM delivery WHERE campaign_id = :c AND status IN ('pending', 'claimed')"),
        {"c": campaign_id},
    ).scalar_one()
    if left:
        return False
    return bool(
        db.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status == CAMPAIGN_SENDING)
            .values(status=CAMPAIGN_SENT, finished_at=datetime.now(UTC))
            .execution_options(synchronize_session=False)
        ).rowcount
    )
