"""Contacts: the searchable, keyset-paged table; the contact page; create/edit; unsubscribe; delete."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..formfields import choices
from ..guards import roles_required
from ..netutil import client_ip
from ..services import DomainError, NotFound
from ..services import contacts as svc
from ..services import fields as field_svc
from ..services import lists as list_svc
from ..services.contacts import ContactFilter, ContactInput, ContactInvalid
from ..suppressions.labels import source_label as suppression_source_label
from . import WRITERS, bp
from .forms import (
    CHANNEL_LABELS,
    KIND_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
    ContactSearchForm,
    contact_form_class,
)


def _actor():
    return current_user._get_current_object()


def _contact_or_404(contact_id: int):
    try:
        return svc.get_contact(contact_id)
    except NotFound:
        abort(404)


def _int_arg(name: str) -> int | None:
    return request.args.get(name, type=int)


@bp.route("/contacts")
def contacts():
    lists, fields = list_svc.list_lists(), field_svc.list_fields()
    form = ContactSearchForm(request.args, lists=lists, fields=fields)
    valid = form.validate()
    flt = ContactFilter(
        q=(form.q.data or "") if valid else "",
        field_key=(form.field.data or "") if valid else "",
        field_value=(form.value.data or "") if valid else "",
        list_id=int(form.list.data) if valid and form.list.data else None,
        status=(form.status.data or "") if valid else "",
    )
    error = None
    try:
        page = svc.contacts_page(g.client, flt, after=_int_arg("after"), before=_int_arg("before"))
    except DomainError as exc:
        error = str(exc)
        page = svc.ContactPage([], None, False, None, None, flt)
    args = {k: v for k, v in request.args.items() if k not in ("after", "before") and v}
    return render_template(
        "audience/contacts.html",
        form=form,
        page=page,
        args=args,
        error=error,
        lists=lists,
        fields=fields,
        filtered=flt.active,
    )


@bp.route("/contacts/<int:contact_id>")
def contact_detail(contact_id: int):
    contact = _contact_or_404(contact_id)
    return render_template(
        "audience/contact_detail.html",
        contact=contact,
        fields=field_svc.list_fields(),
        subscriptions=svc.subscriptions_of(g.client, contact),
        suppressions=svc.suppressions_of(g.client, contact),
        status_labels=STATUS_LABELS,
        channel_labels=CHANNEL_LABELS,
        source_labels=SOURCE_LABELS,
        kind_labels=KIND_LABELS,
        suppression_label=svc.suppression_label,
        suppression_source=suppression_source_label,
    )


def _form(contact=None):
    fields, lists = field_svc.list_fields(), list_svc.list_lists()
    form_cls = contact_form_class(fields)
    data = {}
    if contact is not None and request.method == "GET":
        data = {"email": contact.email or "", "phone": contact.phone or ""}
        for f in fields:
            value = (contact.fields or {}).get(f.key)
            data[f"field_{f.key}"] = _form_value(f.kind, value)
    form = form_cls(data=data) if data else form_cls()
    form.lists.choices = choices([(lst.id, lst.name) for lst in lists])
    return form, fields, lists


def _form_value(kind: str, value):
    if value is None:
        return None
    if kind == "boolean":
        return "yes" if value else "no"
    if kind == "date":
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            return None
    return str(value)


def _raw(kind: str, data) -> str:
    if data is None:
        return ""
    if kind == "date":
        return data.isoformat() if isinstance(data, date) else str(data)
    return str(data)


def _save(contact=None):
    form, fields, lists = _form(contact)
    if form.validate_on_submit():
        data = ContactInput(
            email=form.email.data or "",
            phone=form.phone.data or "",
            values={f.key: _raw(f.kind, getattr(form, f"field_{f.key}").data) for f in fields},
            list_ids=list(form.lists.data or []),
            ip=client_ip(),
        )
        try:
            saved = svc.save_contact(actor=_actor(), client=g.client, data=data, contact=contact)
        except ContactInvalid as exc:
            db.session.rollback()
            for name, message in exc.errors.items():
                target = getattr(form, name.replace("field:", "field_"), None) or form.email
                target.errors = [*target.errors, message]
        except DomainError as exc:
            db.session.rollback()
            form.lists.errors = [*form.lists.errors, str(exc)]
        else:
            db.session.commit()
            flash(_("The contact is saved."), "success")
            return redirect(url_for("audience.contact_detail", contact_id=saved.id))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "audience/contact_form.html", form=form, fields=fields, lists=lists, contact=contact
    ), status


@bp.route("/contacts/new", methods=["GET", "POST"])
@roles_required(*WRITERS)
def contact_new():
    return _save()


@bp.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@roles_required(*WRITERS)
def contact_edit(contact_id: int):
    return _save(_contact_or_404(contact_id))


@bp.route("/contacts/<int:contact_id>/unsubscribe", methods=["POST"])
@roles_required(*WRITERS)
def contact_unsubscribe(contact_id: int):
    contact = _contact_or_404(contact_id)
    sub_id = request.form.get("subscription_id", type=int)
    try:
        svc.unsubscribe(actor=_actor(), client=g.client, contact=contact, subscription_id=sub_id or 0)
    except NotFound:
        abort(404)
    db.session.commit()
    flash(_("The contact is unsubscribed from the list."), "success")
    return redirect(url_for("audience.contact_detail", contact_id=contact.id))


@bp.route("/contacts/<int:contact_id>/delete", methods=["POST"])
@roles_required(*WRITERS)
def contact_delete(contact_id: int):
    contact = _contact_or_404(contact_id)
    svc.delete_contact(actor=_actor(), client=g.client, contact=contact)
    db.session.commit()
    flash(_("The contact is deleted."), "success")
    return redirect(url_for("audience.contacts"))
