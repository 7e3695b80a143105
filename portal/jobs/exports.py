"""CSV exports as jobs with progress: the audit log of an agency or a client."""

from __future__ import annotations

from sqlalchemy import func, select

from ..csvsafe import safe_cell
from ..extensions import db
from ..models import AuditEvent, JobRun
from .progress import Progress
from .results import ResultFile, remove_expired_results
from .runner import register


@register("exports.audit_csv", owns={"job_run_id": JobRun})
def export_audit_csv(job_run_id: int, batch: int = 500) -> None:
    run = db.session.get(JobRun, job_run_id)
    if run is None or run.is_final:
        return  # deleted, or a retry of finished work: nothing to do
    progress = Progress(run)
    query = select(AuditEvent)
    if run.client_id is None:
        query = query.where(AuditEvent.client_id.is_(None))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    progress.begin(total, "Exporting the activity log…")
    out = ResultFile(run.id)
    try:
        done = _write_audit(progress, query, out.writer, batch)
    except BaseException:
        out.discard()
        raise
    progress.finish(f"{done} events exported.", result_name="activity-log.csv", result_file=out.close())


def _write_audit(progress: Progress, query, writer, batch: int) -> int:
    writer.writerow(["time (UTC)", "action", "user", "target", "ip", "details"])
    done = 0
    last_id = 0
    while True:
        rows = list(
            db.session.scalars(query.where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch))
        )
        if not rows:
            break
        for e in rows:
            details = "; ".join(f"{k}={v}" for k, v in sorted((e.details or {}).items()))
            writer.writerow(
                [
                    safe_cell(x)
                    for x in (
                        e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                        e.action,
                        e.actor_email,
                        e.target,
                        e.ip,
                        details,
                    )
                ]
            )
        done += len(rows)
        last_id = rows[-1].id
        progress.advance(done)
    return done


@register("exports.remove_expired")
def remove_expired_exports() -> int:
    """Periodic (jobs/ticker.py): result files whose download link has expired leave the storage."""
    return remove_expired_results()
