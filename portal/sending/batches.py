"""The delivery loop, the same for every per-message backend: claim a batch with a lease, re-check consent
and suppression, hand over one message at a time, mark each row, finish the campaign.

Exactly once, as far as the wire allows: a row is marked sent (conditionally on this worker's claim)
right after the backend accepted its message, and the next message's content goes only once that mark
committed (`_hand_over`), so a killed worker leaves at most one message whose fate is unknown, whose row
the sweeper puts back once its lease expires. The lease is renewed while the worker holds rows
(lease.py), so a slow backend never lets another worker take rows that are still being sent.

Who is at fault decides what happens (backends/base.py): a recipient's refusal fails that delivery only
(and is recorded as a bounce through the events service, like an inbound DSN); a recipient's temporary
refusal defers that row; a backend failure gives every unsent row back untouched and trips the circuit
breaker (outcomes.py). Suspension, pause and cancel stop the loop before the next message.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from queue import SimpleQueue

from flask import current_app
from sqlalchemy import select, text, update

from ..backends.base import BackendUnavailable, RecipientRefused, TryLater, Withdrawn
from ..concurrency import prompt_gil_handover
from ..crypto import SecretError
from ..extensions import db
from ..keys.unreadable import SEND_REASON, record_unreadable
from ..models import Campaign
from ..models.campaign import CAMPAIGN_CANCELLED, CAMPAIGN_SENDING, CAMPAIGN_SENT, DELIVERY_SKIPPED
from . import control, outcomes
from .audience import consent_lists, still_allowed
from .backend import message_backends
from .email_content import EmailContent, MessageError, compose, email_content, recipient_values
from .lease import Lease
from .marks import Marks
from .sms_content import SmsContent, compose_sms, hold_quiet_hours, sms_content

# A claim is sized to last about CLAIM_SECONDS at the rate this worker achieved with its last claim:
# long enough that a fast relay amortises a claim's fixed cost (queries, threads, connections), short
# enough that a slow or rate-limited one still shares the campaign between workers and strands few rows
# if the worker dies. Pause, cancel and suspension do not wait for the claim's end (lease.py).
CLAIM_SECONDS = 2.0
BATCH_MIN, BATCH_MAX = 20, 1000
BATCH = 100  # the first claim of a job
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


def next_batch(size: int, sent: int, seconds: float) -> int:
    """The size of the next claim after `sent` messages took `seconds` (a claim that sent nothing, or
    too quickly to measure, keeps its size)."""
    if sent <= 0 or seconds <= 0.05:
        return size
    return max(BATCH_MIN, min(BATCH_MAX, int(sent / seconds * CLAIM_SECONDS)))


def _claim(campaign_id: int, client_id: int, pg: bool, size: int) -> Claim:
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
            "n": size,
        },
    ).all()
    db.session.commit()
    return Claim(token, sorted((r[0], r[1], r[2]) for r in rows))


def send_batches(campaign_id: int) -> int:
    """Claim and send until nothing is left, the campaign stops being 'sending', or the backend fails."""
    pg = db.engine.dialect.name == "postgresql"
    sent, size = 0, BATCH
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
        claim = _claim(campaign_id, plan.client_id, pg, size)
        if not claim.rows:
            finish_if_done(campaign_id)
            db.session.commit()
            return sent
        started = time.monotonic()
        done, go_on = _send_claim(plan, claim)
        sent += done
        size = next_batch(size, done, time.monotonic() - started)
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
    future: Future  # accepted and marked (True), the row was gone (False), or the backend's refusal
    delivery_id: int


def _hand_over(plan: SendPlan, token: str, rows, values: dict, lease: Lease) -> int:
    """This thread renders, builds and signs the next message while the backend's lanes (base.py) carry
    the previous ones; the lane that gets a message accepted marks it (marks.py).

    Exactly once holds through one chain: each message's content goes only once the message before it
    is settled — refused, or accepted and marked sent — so at most one accepted message is ever unmarked,
    whatever the number of lanes. With two SMTP lanes the next envelope (MAIL, RCPT, DATA) travels while
    the previous content is answered and marked; its content then waits only for that mark."""
    backends = message_backends(plan.connection_id)
    free: SimpleQueue = SimpleQueue()
    for backend in backends:
        free.put(backend)
    build = compose_sms if plan.channel == "sms" else compose
    in_flight: deque[_InFlight] = deque()
    sent = 0
    settled: Future | None = None  # of the last message handed over
    go_on = True
    with (
        prompt_gil_handover(),
        Marks(db.engine) as marks,
        ThreadPoolExecutor(max_workers=len(backends), thread_name_prefix="backend") as wire,
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
                if len(in_flight) == len(backends):  # every lane busy: wait for the oldest answer
                    done, go_on = _answer(plan, token, in_flight.popleft(), marks, lease)
                    sent += done
                if not (go_on and lease.may_send()):
                    break  # lease lost (the rows are someone else's now), expiring, or the campaign stopped
                before, settled = settled, Future()
                handover = _Handover(free, marks, lease, token, delivery_id, before, settled)
                in_flight.append(_InFlight(wire.submit(handover.run, message), delivery_id))
        finally:
            # Whatever happened, every message on the wire is answered and recorded before leaving.
            sent += _answer_all(plan, token, in_flight, marks, lease)
    return sent


@dataclass
class _Handover:
    """One message on a backend lane (a wire thread). An accepted message is marked from here at once, so
    the next message's content waits for the database only, never for this loop's thread."""

    free: SimpleQueue
    marks: Marks
    lease: Lease
    token: str
    delivery_id: int
    before: Future | None  # settled: the message before this one can no longer be sent twice
    settled: Future  # the same for this message, for the one after it

    def run(self, message) -> bool:
        """True when the message was accepted and marked sent, False when its row was no longer ours."""
        backend = self.free.get()
        try:
            answer = backend.send(message, self._ready if self.before is not None else None)
        except (RecipientRefused, TryLater):
            _follow(self.before, self.settled)  # nothing delivered: as settled as the message before
            raise
        except BaseException:
            self.settled.set_result(False)  # stop the messages after this one
            raise
        finally:
            self.free.put(backend)
        try:
            recorded = self.marks.write(self.lease, outcomes.sent(self.token, self.delivery_id, answer))
        except BaseException:
            self.settled.set_result(False)
            raise
        self.settled.set_result(recorded)
        return recorded

    def _ready(self) -> bool:
        return bool(self.before.result())


def _follow(source: Future | None, target: Future) -> None:
    """`target` resolves as `source` does (True for no source; False when it failed)."""
    if source is None:
        target.set_result(True)
        return
    source.add_done_callback(lambda f: target.set_result(f.exception() is None and bool(f.result())))


def _answer(plan: SendPlan, token: str, flight: _InFlight, marks: Marks, lease: Lease) -> tuple[int, bool]:
    """Wait for the oldest message's answer and record a refusal: (messages marked sent, whether to go
    on; False when a mark found its row gone: the lease was lost). A backend failure raises."""
    try:
        recorded = flight.future.result()
    except Withdrawn:
        return 0, False  # a message before it was not settled
    except RecipientRefused as exc:
        return 0, outcomes.refused(plan, marks, lease, token, flight.delivery_id, exc)
    except TryLater as exc:
        return 0, marks.write(lease, outcomes.deferred(token, flight.delivery_id, str(exc), MAX_ATTEMPTS))
    return int(recorded), recorded


def _answer_all(plan: SendPlan, token: str, in_flight: deque, marks: Marks, lease: Lease) -> int:
    """Answer every message still on the wire (how many were marked sent); the first backend failure is
    raised after all of them."""
    sent, failure = 0, None
    while in_flight:
        try:
            sent += _answer(plan, token, in_flight.popleft(), marks, lease)[0]
        except BaseException as exc:  # noqa: BLE001 — the others are still recorded
            failure = failure or exc
    if failure is not None:
        raise failure
    return sent


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
