"""Periodic repair, every 30 s from any worker: nothing is lost when a worker dies or Redis restarts, and
every campaign reaches a final state.

- claimed rows whose lease expired go back to pending (they were never confirmed sent); the rows that
  were on the wire when the worker died count an attempt, and a row out of attempts fails for good;
- rows of cancelled campaigns that were claimed at cancel time end skipped, never pending;
- campaigns in 'sending' with claimable rows and nobody working on them get new send jobs, unless the
  circuit breaker asks to wait or their connection can no longer send (then they pause, with a reason);
- scheduled campaigns whose time has come start (or pause, when their account is suspended);
- campaigns with nothing left become 'sent'.
It runs across tenants (the platform's maintenance) and binds each campaign's tenant before acting on it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import select, text, update

from ..extensions import db
from ..models import Campaign, Client, Connection, Delivery
from ..models.campaign import (
    CAMPAIGN_CANCELLED,
    CAMPAIGN_PAUSED,
    CAMPAIGN_SCHEDULED,
    CAMPAIGN_SENDING,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SKIPPED,
)
from ..providers.send import lease_held
from ..services import DomainError
from ..sms.scheduling import start_due_sms
from ..tenancy import all_tenants, bind_tenant
from .backend import refusal
from .batches import MAX_ATTEMPTS, finish_if_done
from .control import agency_active, pause, queue_send_jobs, start_send

IN_FLIGHT = 2  # rows of one claim that may have been on the wire at once (one sending, one being recorded)
_LIVE = (CAMPAIGN_SENDING, CAMPAIGN_PAUSED, CAMPAIGN_CANCELLED)


def sweep() -> dict:
    now = datetime.now(UTC)
    report = {"released": 0, "gave_up": 0, "requeued": 0, "started": 0, "finished": 0, "paused": 0, "": 0}
    with all_tenants():
        report.update(release_expired(now))
        _skip_cancelled()
        db.session.commit()
        sending = list(
            db.session.execute(
                select(Campaign.id, Campaign.agency_id, Campaign.client_id).where(
                    Campaign.status == CAMPAIGN_SENDING
                )
            )
        )
        due = list(
            db.session.execute(
                select(Campaign.id, Campaign.agency_id, Campaign.client_id).where(
                    Campaign.status == CAMPAIGN_SCHEDULED, Campaign.scheduled_at <= now
                )
            )
        )
    window = int(now.timestamp()) // 30
    for cid, aid, clid in sending:
        with bind_tenant(aid, clid):
            report[_tend(cid, now, f"sweep{window}")] += 1
            db.session.commit()
    for cid, aid, clid in due:
        with bind_tenant(aid, clid):
            report[_start_due(cid, clid)] += 1
    report.pop("", None)
    return report


def release_expired(now: datetime) -> dict:
    """Expired claims of live campaigns, through the (campaign, status) index. The lowest rows of each
    claim were the ones on the wire (a claim is sent in id order and every answered row is marked): they
    count the attempt; the rest of the claim was never tried."""
    live = select(Campaign.id).where(Campaign.status.in_(_LIVE)).scalar_subquery()
    expired = db.session.execute(
        select(Delivery.id, Delivery.claim_token)
        .where(Delivery.campaign_id.in_(live), Delivery.status == "claimed", Delivery.lease_until < now)
        .order_by(Delivery.id)
    ).all()
    if not expired:
        return {"released": 0, "gave_up": 0}
    per_claim: dict[str, list[int]] = defaultdict(list)
    for delivery_id, token in expired:
        per_claim[token].append(delivery_id)
    tried = [i for ids in per_claim.values() for i in ids[:IN_FLIGHT]]
    ids = [i for i, _ in expired]
    db.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(tried), Delivery.status == "claimed")
        .values(attempts=Delivery.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    gave_up = db.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status == "claimed", Delivery.attempts >= MAX_ATTEMPTS)
        .values(
            status=DELIVERY_FAILED,
            claim_token=None,
            lease_until=None,
            error=f"not sent: the worker stopped {MAX_ATTEMPTS} times while sending it",
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    released = db.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status == "claimed")
        .values(status=DELIVERY_PENDING, claim_token=None, lease_until=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    return {"released": released, "gave_up": gave_up}


def _skip_cancelled() -> None:
    cancelled = select(Campaign.id).where(Campaign.status == CAMPAIGN_CANCELLED).scalar_subquery()
    db.session.execute(
        update(Delivery)
        .where(Delivery.campaign_id.in_(cancelled), Delivery.status == DELIVERY_PENDING)
        .values(status=DELIVERY_SKIPPED, error="campaign cancelled")
        .execution_options(synchronize_session=False)
    )


def _tend(campaign_id: int, now: datetime, generation: str) -> str:
    """One sending campaign: requeue, finish, pause, or leave it to the workers (returns the report key)."""
    campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id))
    counts = dict(
        db.session.execute(
            text(
                "SELECT status, count(*) FROM delivery WHERE campaign_id = :c AND client_id = :cl "
                "AND status IN ('pending', 'claimed') GROUP BY status"
            ),
            {"c": campaign_id, "cl": campaign.client_id},
        ).all()
    )
    if not counts:
        return "finished" if finish_if_done(campaign_id) else ""
    if counts.get("claimed") or (campaign.retry_at is not None and campaign.retry_at > now):
        return ""
    if lease_held(campaign, now):  # a provider-side send job is working on it
        return ""
    connection = (
        db.session.scalar(select(Connection).where(Connection.id == campaign.connection_id))
        if campaign.connection_id
        else None
    )
    problem = refusal(connection, campaign.channel or "email")
    if campaign.connection_id and connection is None:
        problem = "The delivery connection of this campaign was removed. Ask your agency."
    if problem:
        pause(actor=None, campaign=campaign, reason=f"Sending paused: {problem}")
        return "paused"
    queue_send_jobs(campaign, generation=generation)
    return "requeued"


def _start_due(campaign_id: int, client_id: int) -> str:
    campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id))
    client = db.session.scalar(select(Client).where(Client.id == client_id))
    if not client.is_active or not agency_active(client):
        campaign.status = CAMPAIGN_PAUSED
        campaign.message = "Not started at its scheduled time: the account was suspended. Resume it to send."
        db.session.commit()
        return "paused"
    if campaign.channel == "sms":  # its credits were reserved when it was scheduled (sms/scheduling.py)
        return start_due_sms(campaign, client)
    try:
        start_send(actor=None, client=client, campaign=campaign)
        db.session.commit()
        return "started"
    except DomainError as exc:
        db.session.rollback()
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id))
        campaign.status, campaign.message = "failed", str(exc)
        db.session.commit()
        return ""
