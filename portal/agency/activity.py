"""The agency's activity log (its own events and its clients'), and the CSV export as a background job."""

from __future__ import annotations

from flask import abort, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..jobs import QUEUE_DEFAULT
from ..jobs.progress import start_job
from ..models import JobRun
from . import bp, queries

ACTION_LABELS = {
    "agency.created": _l("Agency created"),
    "agency.updated": _l("Agency changed"),
    "branding.updated": _l("Branding changed"),
    "client.created": _l("Client created"),
    "client.updated": _l("Client changed"),
    "client.suspended": _l("Client suspended"),
    "client.reactivated": _l("Client reactivated"),
    "client.act_as": _l("Started working inside the client"),
    "client.act_as_stopped": _l("Left the client"),
    "client.settings_updated": _l("Client settings saved"),
    "credentials.password_changed": _l("Password changed"),
    "credentials.reset_requested": _l("Password reset requested"),
    "domain.added": _l("Domain added"),
    "domain.canonical": _l("Main domain changed"),
    "domain.removed": _l("Domain removed"),
    "domain.verified": _l("Domain verified"),
    "login.succeeded": _l("Signed in"),
    "login.failed": _l("Failed sign-in"),
    "logout": _l("Signed out"),
    "user.created": _l("User added"),
    "user.invited": _l("Invitation sent"),
    "user.role_changed": _l("Role changed"),
    "user.activated": _l("User reactivated"),
    "user.deactivated": _l("User deactivated"),
}


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
