"""Client-area pages of batch sources: list, create, edit, delete, test the connection (and pin the key
it shows), run now, and the run history with progress. Everyone in the account reads; admins change."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..guards import roles_required
from ..models import BatchFile, Campaign, JobRun, MailingList
from ..models.batch import PROTOCOL_SFTP, RUN_FINAL
from ..models.user import ROLE_CLIENT_ADMIN
from ..services import DomainError, NotFound
from ..services.campaigns import utc_to_local
from . import bp
from . import sources as svc
from .connect import probe
from .forms import PinForm, SourceForm
from .remote import RemoteError


def _actor():
    return current_user._get_current_object()


def _source_or_404(source_id: int):
    try:
        return svc.get_source(source_id)
    except NotFound:
        abort(404)


def _lists() -> list[MailingList]:
    return list(db.session.scalars(select(MailingList).order_by(MailingList.name)))


def _form(source=None) -> SourceForm:
    form = SourceForm(obj=source) if source is not None and request.method == "GET" else SourceForm()
    form.list_id.choices = [(0, _("— choose a list —"))] + [
        (lst.id, f"{lst.name} (#{lst.id})") for lst in _lists()
    ]
    if source is not None and request.method == "GET":
        form.list_id.data = source.list_id or 0
        for key in ("status", "update_existing", "clear_blanks", "allow_send"):
            if key in (source.options or {}):
                getattr(form, key).data = source.options[key]
    return form


def _values(form: SourceForm) -> svc.SourceValues:
    return svc.SourceValues(
        name=form.name.data or "",
        protocol=form.protocol.data,
        host=form.host.data or "",
        port=form.port.data,
        username=form.username.data or "",
        password=form.password.data or None,
        remote_dir=form.remote_dir.data or "/",
        list_id=form.list_id.data or None,
        status=form.status.data,
        update_existing=form.update_existing.data,
        clear_blanks=form.clear_blanks.data,
        allow_send=form.allow_send.data,
        schedule=form.schedule.data,
        run_at=form.run_at.data or "02:00",
        enabled=form.enabled.data,
        notify_admins=form.notify_admins.data,
    )


@bp.route("/batch")
def index():
    sources = svc.list_sources()
    latest = {s.id: (svc.runs_of(s, limit=1) or [None])[0] for s in sources}
    return render_template("batch/index.html", sources=sources, latest=latest, local=_local)


def _local(when):
    return utc_to_local(g.client, when)


@bp.route("/batch/new", methods=["GET", "POST"])
@roles_required(ROLE_CLIENT_ADMIN)
def new_source():
    form = _form()
    if form.validate_on_submit():
        try:
            source = svc.save_source(actor=_actor(), client=g.client, source=None, values=_values(form))
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("Source saved. Test the connection before its first run."), "success")
            return redirect(url_for("batch.source_detail", source_id=source.id))
    return render_template("batch/form.html", form=form, source=None)


@bp.route("/batch/<int:source_id>/edit", methods=["GET", "POST"])
@roles_required(ROLE_CLIENT_ADMIN)
def edit_source(source_id: int):
    source = _source_or_404(source_id)
    form = _form(source)
    if form.validate_on_submit():
        try:
            svc.save_source(actor=_actor(), client=g.client, source=source, values=_values(form))
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("Source saved."), "success")
            return redirect(url_for("batch.source_detail", source_id=source.id))
    return render_template("batch/form.html", form=form, source=source)


@bp.route("/batch/<int:source_id>/delete", methods=["POST"])
@roles_required(ROLE_CLIENT_ADMIN)
def delete_source(source_id: int):
    source = _source_or_404(source_id)
    try:
        svc.delete_source(actor=_actor(), client=g.client, source=source)
    except DomainError as exc:
        flash(str(exc), "error")
        return redirect(url_for("batch.source_detail", source_id=source_id))
    db.session.commit()
    flash(_("Source deleted. Files on the server were left as they are."), "success")
    return redirect(url_for("batch.index"))


@bp.route("/batch/<int:source_id>")
def source_detail(source_id: int):
    source = _source_or_404(source_id)
    target = (
        db.session.scalar(select(MailingList).where(MailingList.id == source.list_id))
        if source.list_id
        else None
    )
    return render_template(
        "batch/detail.html",
        source=source,
        target=target,
        runs=svc.runs_of(source),
        active=svc.active_run(source),
        needs_key=svc.needs_key(source),
        local=_local,
        probe=None,
        pin_form=PinForm(formdata=None),
    )


@bp.route("/batch/<int:source_id>/test", methods=["POST"])
@roles_required(ROLE_CLIENT_ADMIN)
def test_source(source_id: int):
    """Connect, log in, list the folder. For SFTP without a pinned key: stop after the key exchange and
    show the key, which the admin confirms (nothing, not even the password, is sent before that)."""
    source = _source_or_404(source_id)
    result, error = None, ""
    try:
        result = probe(svc.endpoint(source), svc.allow_localhost())
    except RemoteError as exc:
        error = str(exc)
    # SFTP: a key not pinned yet. FTPS: only a certificate no authority vouches for (a CA-signed one is
    # verified by name, and pinning it would break at its next renewal).
    key_to_pin = ""
    if result and result.server_key and result.server_key != source.server_key:
        if source.protocol == PROTOCOL_SFTP or not result.signed_in:
            key_to_pin = result.server_key
    return render_template(
        "batch/detail.html",
        source=source,
        target=db.session.scalar(select(MailingList).where(MailingList.id == source.list_id))
        if source.list_id
        else None,
        runs=svc.runs_of(source),
        active=svc.active_run(source),
        needs_key=svc.needs_key(source),
        local=_local,
        probe={"result": result, "error": error, "key_to_pin": key_to_pin},
        pin_form=PinForm(formdata=None, key=key_to_pin),
    )


@bp.route("/batch/<int:source_id>/pin", methods=["POST"])
@roles_required(ROLE_CLIENT_ADMIN)
def pin_key(source_id: int):
    source = _source_or_404(source_id)
    form = PinForm()
    if not form.validate_on_submit():
        abort(400)
    svc.pin_server_key(actor=_actor(), client=g.client, source=source, key=form.key.data)
    db.session.commit()
    flash(_("The server's key is pinned: runs connect only to a server that proves it holds it."), "success")
    return redirect(url_for("batch.source_detail", source_id=source.id))


@bp.route("/batch/<int:source_id>/run", methods=["POST"])
@roles_required(ROLE_CLIENT_ADMIN)
def run_now(source_id: int):
    source = _source_or_404(source_id)
    try:
        run = svc.start_run(actor=_actor(), client=g.client, source=source, trigger="manual")
    except DomainError as exc:
        flash(str(exc), "error")
        return redirect(url_for("batch.source_detail", source_id=source.id))
    db.session.commit()
    return redirect(url_for("batch.run_detail", batch_run_id=run.id))


@bp.route("/batch/runs/<int:batch_run_id>")
def run_detail(batch_run_id: int):
    try:
        run = svc.get_run(batch_run_id)
    except NotFound:
        abort(404)
    source = _source_or_404(run.source_id)
    files = list(
        db.session.scalars(select(BatchFile).where(BatchFile.run_id == run.id).order_by(BatchFile.id))
    )
    campaign_ids = [f.campaign_id for f in files if f.campaign_id]
    campaigns = (
        {c.id: c for c in db.session.scalars(select(Campaign).where(Campaign.id.in_(campaign_ids)))}
        if campaign_ids
        else {}
    )
    job = db.session.scalar(select(JobRun).where(JobRun.id == run.job_run_id)) if run.job_run_id else None
    return render_template(
        "batch/run.html",
        run=run,
        source=source,
        files=files,
        campaigns=campaigns,
        job=job,
        live=run.state not in RUN_FINAL and job is not None,
        local=_local,
    )
