"""A client's activity log (its AuditEvent rows): paging for the page, a CSV export as a job."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..jobs import QUEUE_DEFAULT
from ..jobs.progress import start_job
from ..models import AuditEvent, Client, JobRun, User
from . import NotFound
from .audit import record

EXPORT_KIND = "audit_export"
PER_PAGE = 50


def activity_page(client: Client, page: int = 1, per_page: int = PER_PAGE):
    """Newest first. The tenant filter scopes the rows too; the explicit client condition states intent."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.client_id == client.id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def start_activity_export(*, actor: User, client: Client) -> JobRun:
    run = start_job(
        kind=EXPORT_KIND,
        queue=QUEUE_DEFAULT,
        job_name="exports.audit_csv",
        agency_id=client.agency_id,
        client_id=client.id,
        actor_id=actor.id,
    )
    record("activity.exported", actor=actor, agency_id=client.agency_id, client_id=client.id)
    return run


def get_activity_export(run_id: int, *, client: Client) -> JobRun:
    run = db.session.scalar(
        select(JobRun).where(JobRun.id == run_id, JobRun.kind == EXPORT_KIND, JobRun.client_id == client.id)
    )
    if run is None:
        raise NotFound("export")
    return run
