"""Delivery connections of an agency. Secrets go into the service and never come back into a form."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..keys.unreadable import readable_or_none
from ..models.connection import KIND_SMTP, KINDS
from ..providers.binding import bindings_of
from ..providers.connection import is_provider_side
from ..services import DomainError, NotFound
from ..services import connection_bindings as bindings
from ..services import connections as service
from . import bp
from .common import agency_or_404, flash_error, flash_form_errors
from .forms import CONNECTION_FORMS, AgencyDefaultsForm


def _connection_or_404(agency, connection_id: int):
    try:
        return service.get_connection(agency, connection_id)
    except NotFound:
        abort(404)


def _apply_error(form, exc: DomainError) -> None:
    db.session.rollback()
    field = getattr(exc, "field", None)
    if field and hasattr(form, field):
        getattr(form, field).errors = [*getattr(form, field).errors, str(exc)]
    else:
        flash(str(exc), "error")


def _detail(agency):
    return redirect(url_for("admin.agency_detail", agency_id=agency.id, _anchor="connections"))


@bp.route("/agencies/<int:agency_id>/connections/new/<kind>", methods=["GET", "POST"])
def connection_new(agency_id: int, kind: str):
    agency = agency_or_404(agency_id)
    if kind not in KINDS:
        abort(404)
    form = CONNECTION_FORMS[kind]()
    if form.validate_on_submit():
        try:
            connection = service.create_connection(
                actor=current_user,
                agency=agency,
                kind=kind,
                name=form.name.data,
                options=form.options(),
                secrets=form.secrets(),
            )
        except DomainError as exc:
            _apply_error(form, exc)
        else:
            db.session.commit()
            flash(_("Connection %(name)s created.", name=connection.name), "success")
            return _detail(agency)
    return render_template(
        "admin/connections/form.html", agency=agency, kind=kind, form=form, connection=None, secrets_set=set()
    )


@bp.route("/agencies/<int:agency_id>/connections/<int:connection_id>/edit", methods=["GET", "POST"])
def connection_edit(agency_id: int, connection_id: int):
    agency = agency_or_404(agency_id)
    connection = _connection_or_404(agency, connection_id)
    form_class = CONNECTION_FORMS[connection.kind]
    # Only non-secret settings pre-fill the form; password inputs always render empty.
    form = form_class(data={"name": connection.name, **(connection.options or {})})
    if form.validate_on_submit():
        try:
            service.update_connection(
                actor=current_user,
                connection=connection,
                name=form.name.data,
                options=form.options(),
                secrets=form.secrets(),
            )
        except DomainError as exc:
            _apply_error(form, exc)
        else:
            db.session.commit()
            flash(_("Connection %(name)s saved.", name=connection.name), "success")
            return _detail(agency)
    stored = readable_or_none(connection.secrets_encrypted)  # None: no configured key reads them
    secrets_set = {key for key, value in (stored or {}).items() if value}
    return render_template(
        "admin/connections/form.html",
        agency=agency,
        kind=connection.kind,
        form=form,
        connection=connection,
        secrets_set=secrets_set,
        secrets_unreadable=stored is None,
        bindings=bindings_of(connection) if is_provider_side(connection) else [],
    )


@bp.route("/agencies/<int:agency_id>/connections/<int:connection_id>/delete", methods=["POST"])
def connection_delete(agency_id: int, connection_id: int):
    agency = agency_or_404(agency_id)
    connection = _connection_or_404(agency, connection_id)
    name = connection.name
    try:
        service.delete_connection(actor=current_user, connection=connection)
    except DomainError as exc:
        flash_error(exc)
    else:
        db.session.commit()
        flash(_("Connection %(name)s deleted.", name=name), "success")
    return _detail(agency)


@bp.route("/agencies/<int:agency_id>/connections/<int:connection_id>/test", methods=["POST"])
def connection_test(agency_id: int, connection_id: int):
    agency = agency_or_404(agency_id)
    connection = _connection_or_404(agency, connection_id)
    if connection.kind != KIND_SMTP:
        abort(404)
    ok, message = service.run_connection_test(actor=current_user, connection=connection)
    db.session.commit()
    flash(message, "success" if ok else "error")
    return redirect(url_for("admin.connection_edit", agency_id=agency.id, connection_id=connection.id))


def defaults_form(agency, **kwargs) -> AgencyDefaultsForm:
    usable = {channel: bindings.usable_connections(agency.id, channel) for channel in bindings.CHANNELS}
    return AgencyDefaultsForm(usable, **kwargs)


@bp.route("/agencies/<int:agency_id>/connections/defaults", methods=["POST"])
def connection_defaults(agency_id: int):
    agency = agency_or_404(agency_id)
    form = defaults_form(agency)
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _detail(agency)
    try:
        changed = bindings.set_agency_defaults(
            actor=current_user, agency=agency, connection_ids=form.connection_ids()
        )
    except NotFound:
        abort(404)
    except DomainError as exc:
        flash_error(exc)
    else:
        db.session.commit()
        if changed:
            flash(_("Default connections of %(name)s saved.", name=agency.name), "success")
        else:
            flash(_("Nothing changed."), "info")
    return _detail(agency)
