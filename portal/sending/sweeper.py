"""Periodic repair, every 30 s from any worker: nothing is lost when a worker dies or Redis restarts.

- claimed rows whose lease expired go back to pending (they were never confirmed sent);
- campaigns in 'sending' with pending rows and nobody working on them get new send jobs;
- scheduled campaigns whose time has come start;
- campaigns with nothing left become 'sent'.
It runs across tenants (the platform's maintenance) and binds each campaign's tenant before acting on it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, text

from ..extensions import db
from ..models import Campaign, Client
from ..models.campaign import CAMPAIGN_SCHEDULED, CAMPAIGN_SENDING
from ..services import DomainError
from ..tenancy import all_tenants, bind_tenant
from .batches import finish_if_done
from .control import queue_send_jobs, start_send


def sweep() -> dict:
    now = datetime.now(UTC)
    report = {"released": 0, "requeued": 0, "started": 0, "finished": 0}
    with all_tenants():
        report["released"] = db.session.execute(
            text(
                "UPDATE delivery SET status = 'pending', claim_token = NULL, lease_until = NULL "
                "WHERE status = 'claimed' AND lease_until < :now"
            ),
            {"now": now},
        ).rowcount
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
            busy = db.session.execute(
                text("SELECT count(*) FROM delivery WHERE campaign_id = :c AND status = 'claimed'"),
                {"c": cid},
            ).scalar_one()
            pending = db.session.execute(
                text("SELECT count(*) FROM delivery WHERE campaign_id = :c AND status = 'pending'"),
                {"c": cid},
            ).scalar_one()
            if pending and not busy:
                campaign = db.session.scalar(select(Campaign).where(Campaign.id == cid))
                queue_send_jobs(campaign, generation=f"sweep{window}")
                report["requeued"] += 1
            elif finish_if_done(cid):
                report["finished"] += 1
            db.session.commit()
    for cid, aid, clid in due:
        with bind_tenant(aid, clid):
            campaign = db.session.scalar(select(Campaign).where(Campaign.id == cid))
            client = db.session.scalar(select(Client).where(Client.id == clid))
            try:
                start_send(actor=None, client=client, campaign=campaign)
                db.session.commit()
                report["started"] += 1
            except DomainError as exc:
                db.session.rollback()
                campaign = db.session.scalar(select(Campaign).where(Campaign.id == cid))
                campaign.status, campaign.message = "failed", str(exc)
                db.session.commit()
    return report
