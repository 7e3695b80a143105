"""Read side of the RQ queues for the job monitor, plus the two operator actions (retry, cancel).

Only queues named in `portal.jobs.QUEUES` are shown or acted on; job ids from URLs are checked for shape
before Redis is asked, and a missing job is `NotFound` (views answer 404).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from ..jobs import QUEUES
from ..jobs.queueing import redis_connection
from ..services import DomainError, NotFound
from ..services.audit import record

JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$")
LIST_LIMIT = 50
EXC_TRIM = 600


@dataclass
class JobView:
    id: str
    queue: str
    status: str
    description: str
    enqueued_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    error: str = ""  # trimmed last traceback line(s) for failed jobs

    @property
    def can_retry(self) -> bool:
        return self.status == JobStatus.FAILED.value

    @property
    def can_cancel(self) -> bool:
        return self.status in (JobStatus.QUEUED.value, JobStatus.SCHEDULED.value, JobStatus.DEFERRED.value)


@dataclass
class QueueView:
    name: str
    queued: int
    started: int
    scheduled: int
    failed: int
    jobs: dict[str, list[JobView]] = field(default_factory=dict)  # "queued"/"started"/"scheduled"/"failed"


@dataclass
class WorkerView:
    name: str
    state: str
    queues: list[str]
    current_job: str
    last_heartbeat: datetime | None


def _conn() -> Redis:
    return redis_connection()


def _exc_text(job: Job) -> str:
    try:
        result = job.latest_result()
    except (RedisError, ValueError):
        result = None
    text = (result.exc_string if result is not None else "") or ""
    return text.strip()


def trim_exception(text: str, limit: int = EXC_TRIM) -> str:
    """The end of a traceback is what matters: keep its last `limit` characters."""
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-limit:]


def job_view(job: Job, *, with_error: bool = True) -> JobView:
    status = job.get_status(refresh=False)
    status_value = status.value if isinstance(status, JobStatus) else str(status or "")
    return JobView(
        id=job.id,
        queue=job.origin,
        status=status_value,
        description=job.description or job.func_name or "",
        enqueued_at=job.enqueued_at,
        started_at=job.started_at,
        ended_at=job.ended_at,
        error=trim_exception(_exc_text(job)) if with_error and status_value == JobStatus.FAILED.value else "",
    )


def _jobs(conn: Redis, ids: list[str], **kw) -> list[JobView]:
    return [job_view(j, **kw) for j in Job.fetch_many(ids, connection=conn) if j is not None]


def queue_views(*, with_jobs: bool = True) -> list[QueueView]:
    conn = _conn()
    views = []
    for name in QUEUES:
        queue = Queue(name, connection=conn)
        started = StartedJobRegistry(queue=queue)
        scheduled = ScheduledJobRegistry(queue=queue)
        failed = FailedJobRegistry(queue=queue)
        view = QueueView(name, queue.count, started.count, scheduled.count, failed.count)
        if with_jobs:
            view.jobs = {
                "queued": _jobs(conn, queue.get_job_ids(0, LIST_LIMIT)),
                "started": _jobs(conn, started.get_job_ids(0, LIST_LIMIT - 1)),
                "scheduled": _jobs(conn, scheduled.get_job_ids(0, LIST_LIMIT - 1)),
                "failed": _jobs(conn, failed.get_job_ids(0, LIST_LIMIT - 1, desc=True)),
            }
        views.append(view)
    return views


def worker_views() -> list[WorkerView]:
    result = []
    for worker in Worker.all(connection=_conn()):
        result.append(
            WorkerView(
                name=worker.name,
                state=str(worker.get_state()),
                queues=worker.queue_names(),
                current_job=worker.get_current_job_id() or "",
                last_heartbeat=worker.last_heartbeat,
            )
        )
    return sorted(result, key=lambda w: w.name)


def totals() -> dict[str, int] | None:
    """Counts for the overview; None when Redis cannot be reached (the page still renders)."""
    try:
        queues = queue_views(with_jobs=False)
        workers = len(Worker.all(connection=_conn()))
    except RedisError:
        return None
    return {
        "queued": sum(q.queued for q in queues),
        "started": sum(q.started for q in queues),
        "scheduled": sum(q.scheduled for q in queues),
        "failed": sum(q.failed for q in queues),
        "workers": workers,
    }


def fetch_job(job_id: str) -> Job:
    if not isinstance(job_id, str) or not JOB_ID.match(job_id):
        raise NotFound("job")
    try:
        job = Job.fetch(job_id, connection=_conn())
    except NoSuchJobError as exc:
        raise NotFound("job") from exc
    if job.origin not in QUEUES:
        raise NotFound("job")
    return job


def full_error(job: Job) -> str:
    return _exc_text(job)


def retry_job(*, actor, job: Job) -> None:
    """Put a failed job back on its queue (its retry counter starts again)."""
    if job.get_status() != JobStatus.FAILED:
        raise DomainError(_("Only failed jobs can be retried."))
    try:
        FailedJobRegistry(job.origin, connection=_conn()).requeue(job)
    except InvalidJobOperation as exc:
        raise DomainError(_("This job is no longer in the failed list.")) from exc
    record("job.retried", actor=actor, agency_id=None, target=job.id, queue=job.origin)


def cancel_job(*, actor, job: Job) -> None:
    """Cancel a job that has not started: it leaves its queue or the schedule and never runs."""
    if job.get_status() not in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
        raise DomainError(_("Only queued or scheduled jobs can be cancelled."))
    try:
        job.cancel()
    except InvalidJobOperation as exc:
        raise DomainError(_("This job cannot be cancelled any more.")) from exc
    record("job.cancelled", actor=actor, agency_id=None, target=job.id, queue=job.origin)
