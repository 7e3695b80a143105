"""Mailing lists: table, create/edit, delete, and the list page with counts per subscription status."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..guards import roles_required
from ..services import DomainError, NotFound
from ..services import lists as svc
from . import WRITERS, bp
from .forms import CHANNEL_LABELS, STATUS_LABELS, ListForm


def _actor():
    return current_user._get_current_object()


def _list_or_404(list_id: int):
    try:
        return svc.get_list(list_id)
    except NotFound:
        abort(404)


def _values(form: ListForm) -> svc.ListValues:
    return svc.ListValues(
        name=form.name.data or "",
        description=form.description.data or "",
        public_name=form.public_name.data or "",
        default_sender_name=form.default_sender_name.data or "",
        default_sender_email=form.default_sender_email.data or "",
        double_opt_in=bool(form.double_opt_in.data),
        email_enabled=bool(form.email_enabled.data),
        sms_enabled=bool(form.sms_enabled.data),
    )


@bp.route("/lists")
def lists():
    return render_template("audience/lists.html", lists=svc.list_lists())


@bp.route("/lists/new", methods=["GET", "POST"])
@roles_required(*WRITERS)
def list_new():
    form = ListForm()
    if form.validate_on_submit():
        try:
            lst = svc.create_list(actor=_actor(), client=g.client, values=_values(form))
        except DomainError as exc:
            db.session.rollback()
            form.name.errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("The list %(name)s is ready.", name=lst.name), "success")
            return redirect(url_for("audience.list_detail", list_id=lst.id))
    return render_template("audience/list_form.html", form=form, lst=None)


@bp.route("/lists/<int:list_id>")
def list_detail(list_id: int):
    lst = _list_or_404(list_id)
    counts = svc.status_counts(g.client, lst)
    return render_template(
        "audience/list_detail.html",
        lst=lst,
        counts=counts,
        status_labels=STATUS_LABELS,
        channel_labels=CHANNEL_LABELS,
    )


@bp.route("/lists/<int:list_id>/edit", methods=["GET", "POST"])
@roles_required(*WRITERS)
def list_edit(list_id: int):
    lst = _list_or_404(list_id)
    form = ListForm(obj=lst)
    if form.validate_on_submit():
        try:
            svc.update_list(actor=_actor(), client=g.client, lst=lst, values=_values(form))
        except DomainError as exc:
            db.session.rollback()
            form.name.errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("The list %(name)s is saved.", name=lst.name), "success")
            return redirect(url_for("audience.list_detail", list_id=lst.id))
    return render_template("audience/list_form.html", form=form, lst=lst)


@bp.route("/lists/<int:list_id>/delete", methods=["POST"])
@roles_required(*WRITERS)
def list_delete(list_id: int):
    lst = _list_or_404(list_id)
    name = lst.name
    svc.delete_list(actor=_actor(), client=g.client, lst=lst)
    db.session.commit()
    flash(_("The list %(name)s and its subscriptions are deleted.", name=name), "success")
    return redirect(url_for("audience.lists"))
