"""The client's activity log, and its CSV export as a background job with progress."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import abort, g, redirect, render_template, request, url_for
from flask_login import current_user

from ..audit_labels import ACTION_LABELS
from ..extensions import db
from ..guards import roles_required
from ..services import NotFound
from ..services.client_activity import activity_page, get_activity_export, start_activity_export
from . import WRITERS, bp


def _tz():
    try:
        return ZoneInfo(g.client.timezone)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


@bp.route("/activity")
def activity():
    page = activity_page(g.client, page=request.args.get("page", 1, type=int))
    return render_template("client/activity.html", page=page, labels=ACTION_LABELS, tz=_tz())


@bp.route("/activity/export", methods=["POST"])
@roles_required(*WRITERS)
def export_activity():
    run = start_activity_export(actor=current_user._get_current_object(), client=g.client)
    db.session.commit()
    return redirect(url_for("client.activity_export", run_id=run.id))


@bp.route("/activity/export/<int:run_id>")
@roles_required(*WRITERS)
def activity_export(run_id: int):
    try:
        run = get_activity_export(run_id, client=g.client)
    except NotFound:
        abort(404)
    return render_template("client/export.html", run=run)
