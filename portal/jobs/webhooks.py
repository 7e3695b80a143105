"""Webhook jobs: a periodic round turns new feed items into deliveries per client and queues the due
attempts; each attempt is its own job (ids in, state re-checked by the delivery itself)."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import Webhook, WebhookDelivery
from ..tenancy import all_tenants, bind_tenant
from ..webhooks.dispatch import deliver, dispatch_client, due_deliveries
from . import QUEUE_DEFAULT
from .queueing import PendingJob, enqueue_after_commit
from .runner import register


@register("webhooks.round")
def run_round() -> dict:
    with all_tenants():
        clients = sorted(
            set(
                db.session.execute(
                    select(Webhook.agency_id, Webhook.client_id).where(Webhook.enabled.is_(True))
                ).all()
            )
        )
    made = queued = 0
    for agency_id, client_id in clients:
        with bind_tenant(agency_id, client_id):
            made += dispatch_client(client_id)
            db.session.commit()
    with all_tenants():
        for delivery_id in due_deliveries():
            d = db.session.get(WebhookDelivery, delivery_id)
            enqueue_after_commit(
                db.session,
                PendingJob(
                    name="webhooks.deliver",
                    queue=QUEUE_DEFAULT,
                    job_id=f"webhook-{delivery_id}-{d.attempts}",
                    agency_id=d.agency_id,
                    client_id=d.client_id,
                    kwargs={"delivery_id": delivery_id},
                    timeout=60,
                    retries=0,
                ),
            )
            queued += 1
    return {"deliveries_made": made, "attempts_queued": queued}


@register("webhooks.deliver")
def run_deliver(delivery_id: int) -> str:
    return deliver(delivery_id)
