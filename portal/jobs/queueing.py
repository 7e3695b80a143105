"""Enqueue after commit: side effects leave the process only once the data they need is committed."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from redis import Redis
from rq import Queue, Retry
from sqlalchemy import event
from sqlalchemy.orm import Session

_PENDING = "portal_pending_jobs"


@dataclass
class PendingJob:
    name: str  # registered job name (see runner.JOBS)
    queue: str
    job_id: str
    kwargs: dict = field(default_factory=dict)
    agency_id: int | None = None
    client_id: int | None = None
    timeout: int = 600
    retries: int = 3


def redis_connection() -> Redis:
    app = current_app
    conn = app.extensions.get("portal_redis")
    if conn is None:
        # A connect timeout so a vanished Redis answers "unavailable" in seconds instead of holding the
        # request; reads keep redis-py's default. Workers block on queues through worker_connection().
        conn = Redis.from_url(app.config["PORTAL_SETTINGS"].redis_url, socket_connect_timeout=3)
        app.extensions["portal_redis"] = conn
    return conn


def worker_connection() -> Redis:
    """A connection of its own for an RQ worker, whose reads wait as long as its blocking dequeue.

    RQ raises the pool's read timeout above the BLPOP it blocks in (up to worker_ttl - 15 s), but only
    for connections made after the Worker is built; since redis-py 8 reads give up after 5 s by default,
    so a pooled connection made earlier (the ticker's first SET) made an idle worker log "could not
    connect to Redis instance: Timeout reading from socket" over and over. No read timeout here, then:
    RQ sets its own, and every connection of the pool has it."""
    url = current_app.config["PORTAL_SETTINGS"].redis_url
    return Redis.from_url(url, socket_connect_timeout=3, socket_timeout=None)


def enqueue_after_commit(session: Session, job: PendingJob) -> None:
    """Queue `job` once `session` commits. Redis is asked first: when it cannot be reached the error
    (redis ConnectionError) comes before the commit, so nothing is left waiting for a job that cannot be
    queued and the page answers 503 (portal/errors.py) instead of a traceback (checklist I55)."""
    redis_connection().ping()
    # Make sure a transaction is open: a rollback of "nothing" would otherwise fire no event and the job
    # would leave with the next, unrelated commit.
    session.connection()
    session.info.setdefault(_PENDING, []).append(job)


def enqueue_now(job: PendingJob, connection: Redis):
    queue = Queue(job.queue, connection=connection)
    return queue.enqueue_call(
        "portal.jobs.runner.execute",
        args=(job.name, job.agency_id, job.client_id, job.kwargs),
        job_id=job.job_id,
        timeout=job.timeout,
        retry=Retry(max=job.retries, interval=[10, 60, 300][: job.retries]) if job.retries else None,
        description=f"{job.name} {job.job_id}",
        failure_ttl=7 * 24 * 3600,
    )


@event.listens_for(Session, "after_commit")
def _flush_pending(session: Session) -> None:
    jobs = session.info.pop(_PENDING, [])
    if not jobs:
        return
    conn = redis_connection()
    for job in jobs:
        enqueue_now(job, conn)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction) -> None:
    session.info.pop(_PENDING, None)
