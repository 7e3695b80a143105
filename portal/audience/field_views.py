"""Custom contact fields: the table (with "N of 39 used"), create, delete."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..guards import roles_required
from ..models.audience import MAX_FIELDS
from ..services import DomainError, NotFound
from ..services import contacts as contact_svc
from ..services import fields as svc
from . import WRITERS, bp
from .forms import KIND_LABELS, FieldForm


@bp.route("/fields")
def fields():
    return _page(FieldForm())


def _page(form: FieldForm, status: int = 200):
    items = svc.list_fields()
    return (
        render_template(
            "audience/fields.html", fields=items, form=form, kind_labels=KIND_LABELS, max_fields=MAX_FIELDS
        ),
        status,
    )


@bp.route("/fields/new", methods=["POST"])
@roles_required(*WRITERS)
def field_new():
    form = FieldForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    lines = (form.choices_text.data or "").splitlines()
    try:
        f = svc.create_field(
            actor=current_user._get_current_object(),
            client=g.client,
            label=form.label.data,
            kind=form.kind.data,
            choices=lines if form.kind.data == "choice" else [],
        )
    except DomainError as exc:
        db.session.rollback()
        form.label.errors.append(str(exc))
        return _page(form, 400)
    db.session.commit()
    flash(
        _("The field %(label)s is ready: use {{ %(key)s }} in messages.", label=f.label, key=f.key), "success"
    )
    return redirect(url_for("audience.fields"))


@bp.route("/fields/<int:field_id>/delete", methods=["POST"])
@roles_required(*WRITERS)
def field_delete(field_id: int):
    try:
        f = svc.get_field(field_id)
    except NotFound:
        abort(404)
    label = f.label
    try:
        contact_svc.delete_field(actor=current_user._get_current_object(), client=g.client, f=f)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(_("The field %(label)s and its values are deleted.", label=label), "success")
    return redirect(url_for("audience.fields"))
