"""Client area: the forms table, the builder (new/edit), a form's page with its embed code, delete."""

from __future__ import annotations

import re

from flask import abort, flash, g, redirect, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..guards import roles_required
from ..links import agency_base_url
from ..services import NotFound
from ..services import fields as field_svc
from ..services import lists as list_svc
from . import WRITERS, bp, builder
from .public_views import HONEYPOT
from .wtf import REQUEST_LABELS, BuilderForm


def _actor():
    return current_user._get_current_object()


def _form_or_404(form_id: int):
    try:
        return builder.get_form(form_id)
    except NotFound:
        abort(404)


def _builder_form(obj=None) -> BuilderForm:
    form = BuilderForm(obj=obj)
    form.list_ids.choices = [(lst.id, lst.name) for lst in list_svc.list_lists()]
    field_choices = [(f.key, f.label) for f in field_svc.list_fields()]
    form.shown_fields.choices = field_choices
    form.required_fields.choices = field_choices
    if obj is not None and not form.is_submitted():
        form.shown_fields.data = [f["key"] for f in obj.fields or []]
        form.required_fields.data = [f["key"] for f in obj.fields or [] if f.get("required")]
    return form


def _values(form: BuilderForm) -> builder.FormValues:
    required = set(form.required_fields.data or [])
    shown = list(dict.fromkeys([*(form.shown_fields.data or []), *sorted(required)]))
    return builder.FormValues(
        name=form.name.data or "",
        title=form.title.data or "",
        list_ids=list(form.list_ids.data or []),
        fields=[{"key": k, "required": k in required} for k in shown],
        channels=list(form.channels.data or []),
        double_opt_in=bool(form.double_opt_in.data),
        consent_text=form.consent_text.data or "",
        success_message=form.success_message.data or "",
        redirect_url=form.redirect_url.data or "",
        allowed_origins=form.allowed_origins.data or "",
        language=form.language.data or "en",
        active=bool(form.active.data),
    )


def _show_errors(form: BuilderForm, exc: builder.FormInvalid) -> None:
    for name, message in exc.errors.items():
        target = getattr(form, {"fields": "shown_fields"}.get(name, name), None)
        (target.errors.append(message) if target is not None else flash(message, "error"))


@bp.route("/forms")
def forms():
    return render_template("forms/index.html", forms=builder.list_forms())


@bp.route("/forms/new", methods=["GET", "POST"])
@roles_required(*WRITERS)
def form_new():
    form = _builder_form()
    if form.validate_on_submit():
        try:
            made = builder.create_form(actor=_actor(), client=g.client, values=_values(form))
        except builder.FormInvalid as exc:
            db.session.rollback()
            _show_errors(form, exc)
        else:
            db.session.commit()
            flash(_("The form %(name)s is ready: copy its code below.", name=made.name), "success")
            return redirect(url_for("forms.form_detail", form_id=made.id))
    return render_template("forms/builder.html", form=form, subscribe_form=None)


@bp.route("/forms/<int:form_id>")
def form_detail(form_id: int):
    subscribe_form = _form_or_404(form_id)
    base_url, fields = agency_base_url(g.agency), builder.form_fields(subscribe_form)
    with force_locale(subscribe_form.language):  # the snippet speaks the form's language
        snippet = render_template(
            "forms/_snippet.html",
            subscribe_form=subscribe_form,
            base_url=base_url,
            fields=fields,
            values={},
            errors={},
            honeypot=HONEYPOT,
            snippet=True,
        )
    snippet = re.sub(r"\n\s*\n+", "\n", snippet).strip() + "\n"  # the include tags leave blank lines
    return render_template(
        "forms/detail.html",
        subscribe_form=subscribe_form,
        base_url=base_url,
        snippet=snippet,
        fields=fields,
        counts=builder.request_counts(subscribe_form),
        recent=builder.recent_requests(subscribe_form),
        request_labels=REQUEST_LABELS,
        lists={lst.id: lst for lst in list_svc.list_lists()},
    )


@bp.route("/forms/<int:form_id>/edit", methods=["GET", "POST"])
@roles_required(*WRITERS)
def form_edit(form_id: int):
    subscribe_form = _form_or_404(form_id)
    form = _builder_form(subscribe_form)
    if form.validate_on_submit():
        try:
            builder.update_form(actor=_actor(), client=g.client, form=subscribe_form, values=_values(form))
        except builder.FormInvalid as exc:
            db.session.rollback()
            _show_errors(form, exc)
        else:
            db.session.commit()
            flash(_("The form is saved."), "success")
            return redirect(url_for("forms.form_detail", form_id=subscribe_form.id))
    return render_template("forms/builder.html", form=form, subscribe_form=subscribe_form)


@bp.route("/forms/<int:form_id>/delete", methods=["POST"])
@roles_required(*WRITERS)
def form_delete(form_id: int):
    subscribe_form = _form_or_404(form_id)
    name = subscribe_form.name
    builder.delete_form(actor=_actor(), client=g.client, form=subscribe_form)
    db.session.commit()
    flash(_("The form %(name)s is deleted. Sites that still embed it get an error.", name=name), "success")
    return redirect(url_for("forms.forms"))
