"""JobRun rows: created with the job, updated by it, read by the progress component."""

from __future__ import annotations

from datetime import UTC, datetime

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

    def finish(self, message: str, result_name: str | None = None, result_data: bytes | None = None) -> None:
        self.run.state = STATE_DONE
        self.run.done = self.run.total
        self.run.message = message
        self.run.result_name = result_name
        self.run.result_data = result_data
        self.run.finished_at = datetime.now(UTC)
        db.session.commit()

    def fail(self, message: str) -> None:
        self.run.state = STATE_FAILED
        self.run.message = message
        self.run.finished_at = datetime.now(UTC)
        db.session.commit()


def status_payload(run: JobRun, result_url: str | None) -> dict:
    percent = round(100 * run.done / run.total) if run.total else (100 if run.is_final else 0)
    eta = None
    if run.started_at and run.done and run.total and not run.is_final:
        elapsed = (datetime.now(UTC) - run.started_at).total_seconds()
        eta = round(elapsed / run.done * (run.total - run.done))
    return {
        "id": run.id,
        "kind": run.kind,
        "state": run.state,
        "done": run.done,
        "total": run.total,
        "percent": percent,
        "eta_seconds": eta,
        "message": run.message,
        "final": run.is_final,
        "result_url": result_url if run.result_name else None,
    }
