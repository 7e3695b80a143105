"""The agency's activity log (its own events and its clients'), and the CSV export as a background job."""

from __future__ import annotations

from flask import abort, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..audit_labels import ACTION_LABELS
from ..extensions import db
from ..jobs import QUEUE_DEFAULT
from ..jobs.progress import start_job
from ..models import JobRun
from . import bp, queries


@bp.route("/activity")
def activity():
    return render_template(
        "agency/activity.html",
        page=queries.activity_page(request.args.get("page", 1, type=int)),
        client_names=queries.client_names(),
        labels=ACTION_LABELS,
    )


@bp.route("/activity/export", methods=["POST"])
def export_activity():
    run = start_job(
        kind="audit_export",
        queue=QUEUE_DEFAULT,
        job_name="exports.audit_csv",
        agency_id=g.agency.id,
        client_id=None,
        actor_id=current_user.id,
    )
    db.session.commit()
    return redirect(url_for("agency.activity_export", run_id=run.id))


@bp.route("/activity/export/<int:run_id>")
def activity_export(run_id: int):
    run = db.session.scalar(select(JobRun).where(JobRun.id == run_id, JobRun.client_id.is_(None)))
    if run is None:
        abort(404)
    return render_template("agency/export.html", run=run)
