"""Imports (upload → mapping → progress → result) and CSV exports of lists, segments and suppression."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import undefer

from ..extensions import db
from ..guards import client_role, roles_required
from ..imports.sources import MAX_UNPACKED_BYTES, MAX_ZIP_MEMBERS, SourceError
from ..jobs.access import IMPORT, may_read_result
from ..models import ContactImport, JobRun, MailingList
from ..models.transfer import IMPORT_ACTIVE, IMPORT_UPLOADED
from ..services import DomainError, NotFound
from ..services import exports as export_svc
from ..services import imports as svc
from ..services.fields import list_fields
from . import bp
from .forms import ExportForm, PasteForm, UploadForm, mapping_form

WRITERS = ("client_admin", "client_editor")
SOURCES = ("csv", "zip", "paste")


def _actor():
    return current_user._get_current_object()


def _import_or_404(import_id: int, *, with_errors: bool = False) -> ContactImport:
    query = select(ContactImport).where(ContactImport.id == import_id)
    if with_errors:
        query = query.options(undefer(ContactImport.errors_csv))
    imp = db.session.scalar(query)
    if imp is None:
        abort(404)
    return imp


def _limits() -> dict:
    return {
        "max_upload": current_app.config.get("MAX_CONTENT_LENGTH") or 0,
        "max_unpacked": MAX_UNPACKED_BYTES,
        "max_members": MAX_ZIP_MEMBERS,
    }


# --- history and new imports ----------------------------------------------------------------------


@bp.route("/imports")
def imports():
    page = svc.import_page(page=request.args.get("page", 1, type=int))
    return render_template(
        "transfers/imports.html",
        page=page,
        names=svc.user_names(i.created_by_id for i in page.items),
        exports=export_svc.recent_exports(),
        sources=export_svc.export_sources(g.client),
        now_utc=datetime.now(UTC),
    )


@bp.route("/imports/new", methods=["GET", "POST"])
@roles_required(*WRITERS)
def new_import():
    source = request.args.get("source", "csv")
    if source not in SOURCES:
        abort(404)
    forms = {
        "csv": UploadForm(formdata=None),
        "zip": UploadForm(formdata=None),
        "paste": PasteForm(formdata=None),
    }
    if request.method == "POST":
        form = PasteForm() if source == "paste" else UploadForm()
        forms[source] = form
        if form.validate_on_submit():
            try:
                if source == "paste":
                    imp = svc.create_import_from_text(actor=_actor(), client=g.client, pasted=form.text.data)
                else:
                    upload = form.file.data
                    imp = svc.create_import(
                        actor=_actor(), client=g.client, stream=upload.stream, filename=upload.filename or ""
                    )
            except DomainError as exc:
                db.session.rollback()
                (form.text if source == "paste" else form.file).errors.append(str(exc))
            else:
                db.session.commit()
                return redirect(url_for("transfers.map_import", import_id=imp.id))
    for key in ("csv", "zip"):  # two file inputs on one page: distinct ids for their labels
        forms[key].file.id = forms[key].file.label.field_id = f"{key}-file"
    return render_template("transfers/new.html", forms=forms, active=source, **_limits())


# --- mapping --------------------------------------------------------------------------------------


@bp.route("/imports/<int:import_id>/map", methods=["GET", "POST"])
@roles_required(*WRITERS)
def map_import(import_id: int):
    imp = _import_or_404(import_id)
    if imp.status != IMPORT_UPLOADED:
        return redirect(url_for("transfers.import_detail", import_id=imp.id))
    fields = list_fields()
    lists = list(db.session.scalars(select(MailingList).order_by(MailingList.name)))
    form = mapping_form(imp.columns, fields, lists, svc.suggest_mapping(imp.columns, fields))
    if form.validate_on_submit():
        try:
            svc.start_import(
                actor=_actor(),
                client=g.client,
                imp=imp,
                mapping=form.mapping(),
                list_ids=form.lists.data,
                update_existing=form.update_existing.data,
                status=form.status.data,
                clear_blanks=form.blanks.data == "clear",
                consent_ip=request.remote_addr or "",
            )
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            return redirect(url_for("transfers.import_detail", import_id=imp.id))
    try:
        rows = svc.sample_rows(imp, g.client)
    except SourceError as exc:
        rows = []
        flash(str(exc), "error")
    return render_template("transfers/map.html", imp=imp, form=form, rows=rows, lists=lists)


# --- progress and result --------------------------------------------------------------------------


@bp.route("/imports/<int:import_id>")
def import_detail(import_id: int):
    imp = _import_or_404(import_id)
    run = db.session.scalar(select(JobRun).where(JobRun.id == imp.job_run_id)) if imp.job_run_id else None
    has_errors = db.session.scalar(
        select(ContactImport.errors_csv.isnot(None)).where(ContactImport.id == imp.id)
    )
    live = imp.status in IMPORT_ACTIVE and run is not None and not run.is_final
    return render_template(
        "transfers/detail.html",
        imp=imp,
        run=run,
        live=live,
        has_errors=bool(has_errors),
        started_by=svc.user_names([imp.created_by_id]).get(imp.created_by_id, ""),
    )


@bp.route("/imports/<int:import_id>/cancel", methods=["POST"])
@roles_required(*WRITERS)
def cancel_import(import_id: int):
    imp = _import_or_404(import_id)
    try:
        svc.cancel_import(actor=_actor(), imp=imp)
    except DomainError as exc:
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(_("Cancelling the import: nothing is changed if it had not finished."), "success")
    return redirect(url_for("transfers.import_detail", import_id=imp.id))


@bp.route("/imports/<int:import_id>/errors.csv")
def import_errors(import_id: int):
    imp = _import_or_404(import_id, with_errors=True)
    if not imp.errors_csv:
        abort(404)
    if not may_read_result(IMPORT, client_role()):
        abort(403)  # the rejected rows are the file's own data: for those who may import, like the file
    resp = Response(imp.errors_csv, mimetype="text/csv")
    resp.headers["Content-Disposition"] = f'attachment; filename="import-{imp.id}-errors.csv"'
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


# --- exports --------------------------------------------------------------------------------------


@bp.route("/exports", methods=["POST"])
@roles_required(*WRITERS)
def start_export():
    form = ExportForm()
    if not form.validate_on_submit():
        flash(_("Choose what to export."), "error")
        return redirect(url_for("transfers.imports"))
    try:
        run = export_svc.start_export(actor=_actor(), client=g.client, source=form.source.data)
    except NotFound:
        abort(404)
    except DomainError as exc:
        flash(str(exc), "error")
        return redirect(url_for("transfers.imports"))
    db.session.commit()
    return redirect(url_for("transfers.export_detail", run_id=run.id))


@bp.route("/exports/<int:run_id>")
@roles_required(*WRITERS)
def export_detail(run_id: int):
    try:
        run = export_svc.get_export(run_id)
    except NotFound:
        abort(404)
    return render_template("transfers/export.html", run=run)
