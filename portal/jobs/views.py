"""Progress JSON and result downloads for JobRun rows, scoped by the tenant filter like everything else;
inside a client, results only for the roles that may start that kind of job (jobs/access.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, g, jsonify, send_file, url_for
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..guards import client_role
from ..models import JobRun
from .access import may_read_result
from .progress import live_values, status_payload
from .queueing import redis_connection
from .results import result_path

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


def _visible_run(run_id: int) -> JobRun:
    """Agency hosts: the tenant filter scopes the row. The admin host has no JobRun pages of its own."""
    if g.host.kind != "agency" or not (current_user.is_agency_staff or g.get("client") is not None):
        abort(404)
    query = select(JobRun).where(JobRun.id == run_id)
    if g.get("client") is None:
        query = query.where(JobRun.client_id.is_(None))  # agency pages show agency-level jobs only
    run = db.session.scalar(query)
    if run is None:
        abort(404)
    return run


def _may_read_result(run: JobRun) -> bool:
    """Agency-level runs: every agency user (_visible_run checked that). Inside a client: by role."""
    return g.get("client") is None or may_read_result(run.kind, client_role())


@bp.route("/<int:run_id>.json")
def status(run_id: int):
    run = _visible_run(run_id)
    live = None if run.is_final else live_values(run.id, redis_connection())
    result_url = url_for("jobs.result", run_id=run.id) if _may_read_result(run) else None
    return jsonify(status_payload(run, result_url, live))


@bp.route("/<int:run_id>/result")
def result(run_id: int):
    run = _visible_run(run_id)
    if not run.result_name:
        abort(404)
    if not _may_read_result(run):
        abort(403)  # the run is this client's (another tenant's answered 404 above)
    path = result_path(run)
    if path is None or (run.expires_at is not None and run.expires_at < datetime.now(UTC)):
        abort(410)  # download links expire (RESULT_TTL after the job finished), and then the file goes
    resp = send_file(path, mimetype="text/csv", as_attachment=True, download_name=run.result_name)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
