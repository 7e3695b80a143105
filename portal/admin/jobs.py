"""Job monitor: RQ queues, workers, started/scheduled/failed jobs; retry failed jobs, cancel waiting ones."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from redis.exceptions import RedisError

from ..extensions import db
from ..services import DomainError, NotFound
from . import bp, rqmonitor


def _job_or_404(job_id: str):
    try:
        return rqmonitor.fetch_job(job_id)
    except NotFound:
        abort(404)


@bp.route("/jobs")
def job_monitor():
    try:
        queues, workers, error = rqmonitor.queue_views(), rqmonitor.worker_views(), None
    except RedisError as exc:
        queues, workers, error = [], [], str(exc)
    return render_template("admin/jobs/monitor.html", queues=queues, workers=workers, redis_error=error)


@bp.route("/jobs/<job_id>")
def job_detail(job_id: str):
    job = _job_or_404(job_id)
    return render_template(
        "admin/jobs/detail.html",
        job=rqmonitor.job_view(job, with_error=False),
        error=rqmonitor.full_error(job),
    )


def _act(job_id: str, action, done_message: str):
    job = _job_or_404(job_id)
    try:
        action(actor=current_user, job=job)
    except DomainError as exc:
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(done_message, "success")
    return redirect(url_for("admin.job_monitor"))


@bp.route("/jobs/<job_id>/retry", methods=["POST"])
def job_retry(job_id: str):
    return _act(job_id, rqmonitor.retry_job, _("The job is back on its queue."))


@bp.route("/jobs/<job_id>/cancel", methods=["POST"])
def job_cancel(job_id: str):
    return _act(job_id, rqmonitor.cancel_job, _("The job was cancelled."))
