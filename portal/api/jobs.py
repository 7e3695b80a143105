"""Background jobs started through the API (bulk upserts): state and progress."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import ContactImport, JobRun
from . import bp
from .auth import requires
from .errors import ApiError
from .schemas import JobOut

IMPORT_COUNTS = (
    "rows_total",
    "created_count",
    "updated_count",
    "unchanged_count",
    "invalid_count",
    "duplicate_count",
    "suppressed_count",
)


@bp.route("/jobs/<int:job_id>", methods=["GET"])
@bp.response(200, JobOut)
@requires("read")
def jobs_get(job_id: int):
    """State (queued, running, done, failed, cancelled), progress done/total, message, import counts."""
    run = db.session.scalar(select(JobRun).where(JobRun.id == job_id, JobRun.client_id.is_not(None)))
    if run is None:
        raise ApiError(404, "not_found", "No such job.")
    result = {}
    imp = db.session.scalar(select(ContactImport).where(ContactImport.job_run_id == run.id))
    if imp is not None:
        result = {"import_id": imp.id, "status": imp.status, **{k: getattr(imp, k) for k in IMPORT_COUNTS}}
    return {
        "id": run.id,
        "kind": run.kind,
        "state": run.state,
        "done": run.done,
        "total": run.total,
        "message": run.message,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "result": result,
    }
