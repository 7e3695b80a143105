"""Segments: the list (counts on demand), the rule editor with a live count preview, delete."""

from __future__ import annotations

from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..extensions import db
from ..guards import roles_required
from ..models.audience import SUB_STATUSES
from ..services import DomainError, NotFound
from ..services import fields as field_svc
from ..services import lists as list_svc
from ..services import segments as svc
from . import WRITERS, bp
from .forms import KIND_LABELS, STATUS_LABELS, SegmentForm, segment_rules_from

OPERATOR_LABELS = {
    "equals": _l("is"),
    "not_equals": _l("is not"),
    "contains": _l("contains"),
    "starts_with": _l("starts with"),
    "is_empty": _l("is empty"),
    "is_not_empty": _l("is not empty"),
    "greater_than": _l("is greater than"),
    "less_than": _l("is less than"),
    "before": _l("is before"),
    "after": _l("is after"),
}


def _segment_or_404(segment_id: int):
    try:
        return svc.get_segment(segment_id)
    except NotFound:
        abort(404)


@bp.route("/segments")
def segments():
    return render_template("audience/segments.html", segments=svc.list_segments())


@bp.route("/segments/<int:segment_id>/count.json")
def segment_count(segment_id: int):
    seg = _segment_or_404(segment_id)
    try:
        return jsonify(count=svc.count_matching(g.client, seg.rules))
    except DomainError as exc:
        return jsonify(error=str(exc)), 400


def _value_text(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _editor(form: SegmentForm, rules: dict, segment=None, status: int = 200):
    fields = field_svc.list_fields()
    return (
        render_template(
            "audience/segment_form.html",
            form=form,
            segment=segment,
            rules=rules,
            fields=fields,
            lists=list_svc.list_lists(),
            statuses=[(s, STATUS_LABELS[s]) for s in SUB_STATUSES],
            operators=svc.OPERATORS_BY_KIND,
            operator_labels=OPERATOR_LABELS,
            field_kinds={f.key: f.kind for f in fields},
            kind_labels=KIND_LABELS,
            value_text=_value_text,
        ),
        status,
    )


def _save(segment=None):
    form = SegmentForm(obj=segment)
    if segment is not None and request.method == "GET":
        form.match.data = (segment.rules or {}).get("match", "all")
    rules = (
        segment_rules_from(request.form) if request.method == "POST" else (segment.rules if segment else {})
    )
    if form.validate_on_submit():
        try:
            saved = svc.save_segment(
                actor=current_user._get_current_object(),
                client=g.client,
                name=form.name.data,
                rules=rules,
                segment=segment,
            )
        except DomainError as exc:
            db.session.rollback()
            form.name.errors = [*form.name.errors, str(exc)]
        else:
            db.session.commit()
            flash(_("The segment %(name)s is saved.", name=saved.name), "success")
            return redirect(url_for("audience.segment_edit", segment_id=saved.id))
    return _editor(form, rules or {}, segment, 400 if form.is_submitted() else 200)


@bp.route("/segments/new", methods=["GET", "POST"])
@roles_required(*WRITERS)
def segment_new():
    return _save()


@bp.route("/segments/<int:segment_id>", methods=["GET", "POST"])
def segment_edit(segment_id: int):
    segment = _segment_or_404(segment_id)
    if request.method == "POST":
        return _save_as_writer(segment)
    return _save(segment)


@roles_required(*WRITERS)
def _save_as_writer(segment):
    return _save(segment)


@bp.route("/segments/preview.json", methods=["POST"])
def segment_preview():
    """The editor's live preview (POST with the form's CSRF token; reads only, so viewers may use it)."""
    try:
        return jsonify(svc.preview(g.client, segment_rules_from(request.form)))
    except DomainError as exc:
        return jsonify(error=str(exc)), 400


@bp.route("/segments/<int:segment_id>/delete", methods=["POST"])
@roles_required(*WRITERS)
def segment_delete(segment_id: int):
    segment = _segment_or_404(segment_id)
    name = segment.name
    svc.delete_segment(actor=current_user._get_current_object(), client=g.client, segment=segment)
    db.session.commit()
    flash(_("The segment %(name)s is deleted.", name=name), "success")
    return redirect(url_for("audience.segments"))
