"""Platform-wide suppression: addresses no client of any agency may reach (agency_id NULL).

The back-office runs under all_tenants(), so every query names `agency_id IS NULL` explicitly
(services.suppression does it for agency_id=None)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..services import DomainError, NotFound
from ..services import suppression as service
from ..suppressions.forms import BlockForm
from ..suppressions.labels import HELPERS
from . import bp


def _render(form: BlockForm, status: int = 200):
    search = request.args.get("q", "")[:254]
    page = service.blocked_page(None, search, request.args.get("page", 1, type=int))
    return (
        render_template("admin/suppression.html", form=form, page=page, search=search, **HELPERS),
        status,
    )


@bp.route("/suppression")
def suppression():
    return _render(BlockForm())


@bp.route("/suppression/add", methods=["POST"])
def suppression_add():
    form = BlockForm()
    if not form.validate_on_submit():
        return _render(form, 422)
    try:
        entry = service.add_blocked(
            actor=current_user._get_current_object(),
            agency_id=None,
            channel=form.channel.data,
            address=form.address.data,
            reason=form.reason.data,
            note=form.note.data or "",
        )
    except DomainError as exc:
        db.session.rollback()
        form.address.errors = [*form.address.errors, str(exc)]
        return _render(form, 422)
    db.session.commit()
    flash(_("%(address)s is now blocked on the whole platform.", address=entry.address), "success")
    return redirect(url_for("admin.suppression"))


@bp.route("/suppression/<int:blocked_id>/remove", methods=["POST"])
def suppression_remove(blocked_id: int):
    try:
        entry = service.get_blocked(None, blocked_id)
    except NotFound:
        abort(404)
    address = entry.address
    service.remove_blocked(actor=current_user._get_current_object(), entry=entry)
    db.session.commit()
    flash(_("%(address)s is no longer blocked.", address=address), "success")
    return redirect(url_for("admin.suppression"))
