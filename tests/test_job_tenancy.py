"""Checklist B14: a job whose ids belong to another tenant than the one it was queued for does nothing
and records a security event. The jobs are put straight into Redis, as a forged or corrupted job would
be, and run by a real RQ worker."""

from __future__ import annotations

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from portal.extensions import db
from portal.jobs import QUEUE_DEFAULT, QUEUE_SENDS
from portal.jobs.progress import start_job
from portal.jobs.queueing import PendingJob, enqueue_now
from portal.jobs.tenant_check import ACTION
from portal.models import AuditEvent, Delivery, JobRun
from portal.models.campaign import DELIVERY_PENDING
from portal.services.exports import JOB_NAME as EXPORT_JOB
from portal.tenancy import all_tenants, bind_tenant

from .sending_support import make_campaign
from .support import run_jobs
from .test_sending import _start

PEOPLE = [("anna@example.org", "Anna"), ("bruno@example.org", "Bruno")]


def _redis(app) -> Redis:
    return Redis.from_url(app.config["PORTAL_SETTINGS"].redis_url)


def _forge(app, name, queue, agency_id, client_id, **kwargs):
    enqueue_now(
        PendingJob(
            name=name,
            queue=queue,
            job_id=f"forged-{name.replace('.', '_')}-{agency_id}-{client_id}",
            agency_id=agency_id,
            client_id=client_id,
            kwargs=kwargs,
            retries=0,
        ),
        _redis(app),
    )


def _security_events(app) -> list[AuditEvent]:
    with app.app_context(), all_tenants():
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == ACTION)).all()
        db.session.expunge_all()
        return rows


def _pending(app, s) -> int:
    with app.app_context(), all_tenants():
        return db.session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.campaign_id == s.campaign_id, Delivery.status == DELIVERY_PENDING)
        )


@pytest.fixture
def sending_campaign(app, world):
    """A1's campaign, started (deliveries pending) with its own jobs taken off the queue."""
    s = make_campaign(app, world, contacts=PEOPLE)
    assert _start(app, s) == 2
    Queue(QUEUE_SENDS, connection=_redis(app)).empty()
    return s


@pytest.mark.parametrize("tenant", [("AG2", "B1"), ("AG1", "A2"), ("AG2", None)])
def test_a_send_job_with_another_tenants_campaign_does_nothing(app, world, outbox, sending_campaign, tenant):
    agency_key, client_key = tenant
    agency_id = world.agency_ids[agency_key]
    client_id = world.client_ids[client_key] if client_key else None
    _forge(
        app,
        "sending.send_batches",
        QUEUE_SENDS,
        agency_id,
        client_id,
        campaign_id=sending_campaign.campaign_id,
    )
    run_jobs(app)
    assert outbox.messages() == []
    assert _pending(app, sending_campaign) == 2
    events = _security_events(app)
    assert len(events) == 1
    event = events[0]
    assert event.agency_id is None  # the operator's log: no tenant may hide it
    assert event.target == "sending.send_batches"
    assert event.details["ids"] == f"campaign_id={sending_campaign.campaign_id}"
    assert f"agency {agency_id}" in event.details["queued_for"]


def test_the_same_job_for_its_own_tenant_sends(app, world, outbox, sending_campaign):
    s = sending_campaign
    _forge(app, "sending.send_batches", QUEUE_SENDS, s.agency_id, s.client_id, campaign_id=s.campaign_id)
    run_jobs(app)
    assert len(outbox.messages()) == 2 and _pending(app, s) == 0
    assert _security_events(app) == []


def test_a_deleted_campaign_is_nothing_to_do_not_a_security_event(app, world, outbox):
    _forge(
        app,
        "sending.send_batches",
        QUEUE_SENDS,
        world.agency_ids["AG1"],
        world.client_ids["A1"],
        campaign_id=987654,
    )
    run_jobs(app)
    assert outbox.messages() == [] and _security_events(app) == []


def test_an_export_job_with_another_clients_run_does_nothing(app, world):
    """A1's export run, queued again for B1: the run stays queued, no file, a security event."""
    a1, ag1 = world.client_ids["A1"], world.agency_ids["AG1"]
    with app.app_context(), bind_tenant(ag1, a1):
        run = start_job(
            kind="contacts_export",
            job_name=EXPORT_JOB,
            queue=QUEUE_DEFAULT,
            agency_id=ag1,
            client_id=a1,
            actor_id=None,
            kwargs={"source": "suppression"},
        )
        db.session.commit()
        run_id = run.id
    Queue(QUEUE_DEFAULT, connection=_redis(app)).empty()
    _forge(
        app,
        EXPORT_JOB,
        QUEUE_DEFAULT,
        world.agency_ids["AG2"],
        world.client_ids["B1"],
        job_run_id=run_id,
        source="suppression",
    )
    run_jobs(app)
    with app.app_context(), all_tenants():
        run = db.session.get(JobRun, run_id)
        assert run.state == "queued" and not run.result_path
    assert [e.details["ids"] for e in _security_events(app)] == [f"job_run_id={run_id}"]
