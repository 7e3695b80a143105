"""JobRun rows: created with the job, updated by it, read by the progress component."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..extensions import db
from ..models import JobRun
from ..models.jobrun import STATE_DONE, STATE_FAILED, STATE_RUNNING
from .queueing import PendingJob, enqueue_after_commit


def start_job(
    *,
    kind: str,
    queue: str,
    job_name: str,
    agency_id: int,
    client_id: int | None,
    actor_id: int | None,
    kwargs: dict | None = None,
    timeout: int = 600,
    enqueue: bool = True,
) -> JobRun:
    """Create the JobRun and enqueue its RQ job after commit, with an id derived from the row."""
    run = JobRun(
        kind=kind,
        queue=queue,
        rq_job_id="pending",
        agency_id=agency_id,
        client_id=client_id,
        created_by_id=actor_id,
    )
    db.session.add(run)
    db.session.flush()
    run.rq_job_id = f"jobrun-{run.id}"
    if not enqueue:  # run in this process by the caller (command line)
        return run
    enqueue_after_commit(
        db.session,
        PendingJob(
            name=job_name,
            queue=queue,
            job_id=run.rq_job_id,
            agency_id=agency_id,
            client_id=client_id,
            kwargs={"job_run_id": run.id, **(kwargs or {})},
            timeout=timeout,
            retries=0,
        ),
    )
    return run


class Progress:
    """Handle a job uses to report progress; commits so the UI sees it while the job runs."""

    def __init__(self, run: JobRun, commit_every: int = 1):
        self.run = run

    def begin(self, total: int, message: str = "") -> None:
        self.run.state = STATE_RUNNING
        self.run.total = total
        self.run.started_at = datetime.now(UTC)
        self.run.message = message
        db.session.commit()

    def advance(self, done: int, message: str | None = None) -> None:
        self.run.done = done
        if message is not None:
            self.run.message = message
        db.session.commit()

    def finish(self, message: str, result_name: str | None = None, result_file: str | None = None) -> None:
        """`result_file`: the name ResultFile.close() returned (jobs/results.py)."""
        self.run.state = STATE_DONE
        self.run.done = self.run.total
        self.run.message = message
        self.run.result_name = result_name
        self.run.result_path = result_file
        self.run.finished_at = datetime.now(UTC)
        if result_file is not None:
            self.run.expires_at = self.run.finished_at + RESULT_TTL
        db.session.commit()

    def fail(self, message: str) -> None:
        self.run.state = STATE_FAILED
        self.run.message = message
        self.run.finished_at = datetime.now(UTC)
        db.session.commit()


LIVE_TTL = 24 * 3600
RESULT_TTL = timedelta(days=7)


def _live_key(run_id: int) -> str:
    return f"portal:jobrun:{run_id}:live"


class LiveProgress:
    """Progress for jobs that keep one transaction open until the end (imports): the counts go to Redis,
    so the UI sees them without the job committing half its work."""

    def __init__(self, run_id: int, redis):
        self.key, self.redis = _live_key(run_id), redis

    def advance(self, done: int, message: str) -> None:
        self.redis.hset(self.key, mapping={"done": done, "message": message})
        self.redis.expire(self.key, LIVE_TTL)

    def clear(self) -> None:
        self.redis.delete(self.key)


def live_values(run_id: int, redis) -> dict:
    raw = redis.hgetall(_live_key(run_id))
    return {k.decode(): v.decode() for k, v in raw.items()}


def status_payload(run: JobRun, result_url: str | None, live: dict | None = None) -> dict:
    if live and not run.is_final:
        run_done = int(live.get("done", run.done))
        run_message = live.get("message", run.message)
    else:
        run_done, run_message = run.done, run.message
    percent = min(100, round(100 * run_done / run.total)) if run.total else (100 if run.is_final else 0)
    eta = None
    if run.started_at and run_done and run.total and not run.is_final:
        elapsed = (datetime.now(UTC) - run.started_at).total_seconds()
        eta = max(0, round(elapsed / run_done * (run.total - run_done)))
    return {
        "id": run.id,
        "kind": run.kind,
        "state": run.state,
        "done": run_done,
        "total": run.total,
        "percent": percent,
        "eta_seconds": eta,
        "message": run_message,
        "final": run.is_final,
        "result_url": result_url if run.result_name else None,
    }
