"""Job monitor with a real Redis and a real RQ worker: failed jobs show up, can be retried; waiting jobs can
be cancelled."""

from __future__ import annotations

from redis import Redis
from rq.job import Job, JobStatus
from sqlalchemy import select

from portal.extensions import db
from portal.jobs import QUEUE_DEFAULT, QUEUE_SYNC
from portal.jobs.queueing import PendingJob, enqueue_now
from portal.models import AuditEvent
from portal.tenancy import all_tenants

from .support import client_for, run_jobs


def _redis(app) -> Redis:
    return Redis.from_url(app.config["PORTAL_SETTINGS"].redis_url)


def _enqueue_broken(app, job_id: str = "broken-1", queue: str = QUEUE_DEFAULT) -> Job:
    # An unknown job name makes the runner raise KeyError: a job that fails for real.
    return enqueue_now(PendingJob(name="no.such.job", queue=queue, job_id=job_id, retries=0), _redis(app))


def test_failed_job_is_listed_and_can_be_retried(app, world):
    _enqueue_broken(app)
    admin = client_for(app, world, "admin")
    page = admin.get("/admin/jobs").get_data(as_text=True)
    assert 'data-job-id="broken-1"' in page and "no.such.job broken-1" in page
    run_jobs(app)
    assert Job.fetch("broken-1", connection=_redis(app)).get_status() == JobStatus.FAILED

    page = admin.get("/admin/jobs").get_data(as_text=True)
    assert 'data-job-id="broken-1"' in page and "KeyError" in page and "Retry" in page
    assert 'data-testid="stat-jobs-failed">1<' in admin.get("/admin/").get_data(as_text=True)
    detail = admin.get("/admin/jobs/broken-1").get_data(as_text=True)
    assert "Traceback" in detail and "no.such.job" in detail

    resp = admin.post("/admin/jobs/broken-1/retry", csrf_path="/admin/jobs")
    assert resp.status_code == 302
    assert Job.fetch("broken-1", connection=_redis(app)).get_status() == JobStatus.QUEUED
    assert "KeyError" not in admin.get("/admin/jobs").get_data(as_text=True)
    # Retrying a job that is not failed is refused with a message, not an error page.
    page = admin.post("/admin/jobs/broken-1/retry", csrf_path="/admin/jobs", follow_redirects=True)
    assert "Only failed jobs can be retried" in page.get_data(as_text=True)
    with app.app_context(), all_tenants():
        assert (
            db.session.scalar(select(AuditEvent).where(AuditEvent.action == "job.retried")).target
            == "broken-1"
        )
    run_jobs(app)  # fails again: the list shows it again
    assert 'data-job-id="broken-1"' in admin.get("/admin/jobs").get_data(as_text=True)


def test_queued_job_can_be_cancelled(app, world):
    _enqueue_broken(app, "waiting-1", QUEUE_SYNC)
    admin = client_for(app, world, "admin")
    resp = admin.post("/admin/jobs/waiting-1/cancel", csrf_path="/admin/jobs")
    assert resp.status_code == 302
    assert Job.fetch("waiting-1", connection=_redis(app)).get_status() == JobStatus.CANCELED
    run_jobs(app)  # nothing runs
    assert Job.fetch("waiting-1", connection=_redis(app)).get_status() == JobStatus.CANCELED
    page = admin.post("/admin/jobs/waiting-1/cancel", csrf_path="/admin/jobs", follow_redirects=True)
    assert "Only queued or scheduled jobs can be cancelled" in page.get_data(as_text=True)


def test_job_ids_are_validated(app, world):
    admin = client_for(app, world, "admin")
    assert admin.get("/admin/jobs/missing").status_code == 404
    assert admin.post("/admin/jobs/missing/retry", csrf_path="/admin/jobs").status_code == 404
    assert admin.post("/admin/jobs/a%20b/cancel", csrf_path="/admin/jobs").status_code == 404
    # A job on a queue that is not ours is not shown or touched.
    from rq import Queue

    Queue("foreign", connection=_redis(app)).enqueue_call("os.getcwd", job_id="foreign-1")
    assert admin.get("/admin/jobs/foreign-1").status_code == 404


def test_workers_are_listed(app, world):
    from rq import Worker

    worker = Worker([QUEUE_DEFAULT], connection=_redis(app), name="test-worker-1")
    worker.register_birth()
    try:
        page = client_for(app, world, "admin").get("/admin/jobs").get_data(as_text=True)
        assert "test-worker-1" in page
    finally:
        worker.register_death()
