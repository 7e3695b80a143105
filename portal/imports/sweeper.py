"""Periodic repair of imports, every 30 s from any worker (jobs/ticker.py): no import blocks its client.

- a running import whose lease ran out lost its worker (killed, out of memory, machine gone): its
  transaction died with it, so nothing it wrote stays; it is failed with a message the client reads, its
  JobRun too, its files are removed, and its slot is free;
- a queued import whose job Redis no longer has (a Redis restart), or whose job failed before it could
  claim the import (a worker killed at that moment), is queued again: nothing of it had started; one whose
  job an operator cancelled or stopped in the back-office is cancelled.
It runs across tenants (the platform's maintenance) and binds each import's tenant before acting on it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from ..extensions import db
from ..jobs import QUEUE_IMPORTS
from ..jobs.progress import LiveProgress
from ..jobs.queueing import PendingJob, enqueue_now, redis_connection
from ..models import ContactImport, JobRun
from ..models.jobrun import STATE_CANCELLED, STATE_FAILED
from ..models.transfer import IMPORT_CANCELLED, IMPORT_FAILED, IMPORT_QUEUED, IMPORT_RUNNING
from ..tenancy import all_tenants, bind_tenant
from .lease import JOB_NAME, JOB_TIMEOUT, interrupted_message, settle

# A queued import's job leaves for Redis just after the commit that queued it: give it time to arrive.
QUEUED_GRACE = timedelta(minutes=1)
_LIVE_JOB = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}
_STOPPED_JOB = {JobStatus.CANCELED, JobStatus.STOPPED}


def sweep(now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    report = {"failed": 0, "requeued": 0, "cancelled": 0, "busy": 0}
    with all_tenants():
        dead = db.session.execute(
            select(
                ContactImport.id, ContactImport.agency_id, ContactImport.client_id, ContactImport.job_run_id
            )
            .where(ContactImport.status == IMPORT_RUNNING, ContactImport.lease_until < now)
            .order_by(ContactImport.id)
        ).all()
        waiting = db.session.execute(
            select(
                ContactImport.id,
                ContactImport.agency_id,
                ContactImport.client_id,
                JobRun.id,
                JobRun.rq_job_id,
            )
            .join(JobRun, JobRun.id == ContactImport.job_run_id)
            .where(ContactImport.status == IMPORT_QUEUED, JobRun.created_at < now - QUEUED_GRACE)
            .order_by(ContactImport.id)
        ).all()
        db.session.commit()
    redis = redis_connection()
    for import_id, agency_id, client_id, run_id in dead:
        message = interrupted_message()
        # Still expired when the update runs: a renewal since the select above means it is alive.
        ended = _settle(agency_id, client_id, import_id, IMPORT_FAILED, STATE_FAILED, message, now, now)
        if ended is None:
            report["busy"] += 1
            break
        if ended:
            report["failed"] += 1
            if run_id:
                _forget_progress(run_id, redis)
    for import_id, agency_id, client_id, run_id, rq_job_id in waiting:
        status = _job_status(rq_job_id, redis)
        if status in _LIVE_JOB:
            continue
        if status in _STOPPED_JOB:
            message = "Cancelled before it started."
            ended = _settle(agency_id, client_id, import_id, IMPORT_CANCELLED, STATE_CANCELLED, message, now)
            if ended is None:
                report["busy"] += 1
            elif ended:
                report["cancelled"] += 1
            continue
        job = PendingJob(
            name=JOB_NAME,
            queue=QUEUE_IMPORTS,
            job_id=rq_job_id,
            agency_id=agency_id,
            client_id=client_id,
            kwargs={"job_run_id": run_id, "import_id": import_id},
            timeout=JOB_TIMEOUT,
            retries=0,
        )
        enqueue_now(job, redis)  # a second run of a job that was not lost after all finds it claimed: no-op
        report["requeued"] += 1
    return report


def _settle(agency_id, client_id, import_id, status, run_state, message, now, expired_before=None):
    """settle() in a commit of its own, for the import's tenant: True, False (ended already), or None when
    the database is busy."""
    with bind_tenant(agency_id, client_id):
        try:
            ended = settle(
                import_id, client_id, status, run_state, message, now=now, expired_before=expired_before
            )
            db.session.commit()
            return ended
        except OperationalError:
            # SQLite: a writer holds the database's only write lock — possibly a running import, alive but
            # unable to renew its lease meanwhile. Nothing can be written now; the next sweep retries.
            db.session.rollback()
            return None


def _job_status(job_id: str, redis) -> JobStatus | None:
    try:
        return Job.fetch(job_id, connection=redis).get_status()
    except NoSuchJobError:
        return None


def _forget_progress(run_id: int, redis) -> None:
    try:
        LiveProgress(run_id, redis).clear()
    except RedisError:
        pass  # the key expires by itself; the page reads the final state from the database anyway
