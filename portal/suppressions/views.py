"""The client's suppression list: summary and chart, search and filters, add, remove, CSV export."""

from __future__ import annotations

import csv
import io

from flask import (
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..client import ADMINS, WRITERS, client_role
from ..csvsafe import safe_cell
from ..extensions import db
from ..guards import roles_required
from ..models import Client
from ..models.suppression import PROTECTED_REASONS
from ..services import DomainError, NotFound
from ..services import suppression as service
from ..tenancy import bind_tenant
from . import bp, chart
from .forms import AddForm, FilterForm, RemoveForm
from .labels import HELPERS, REASON_LABELS, export_source

CHART_DAYS = (30, 90)


@bp.context_processor
def _helpers():
    role = client_role()
    return {
        **HELPERS,
        "can_add": role in WRITERS,
        "can_remove": role in ADMINS,
        "is_agency_actor": g.get("acting_as_client", False),
    }


def _actor():
    return current_user._get_current_object()


def _filters(form: FilterForm) -> service.Filters:
    if not form.validate():
        # Bad filter values (a malformed date, an unknown reason) are ignored, not an error page.
        for name in form.errors:
            getattr(form, name).data = None
    return service.Filters(
        q=form.q.data or "",
        channel=form.channel.data or "",
        reason=form.reason.data or "",
        date_from=form.date_from.data,
        date_to=form.date_to.data,
    )


def _filter_args(form: FilterForm) -> dict:
    args = {}
    for name in ("q", "channel", "reason", "date_from", "date_to"):
        value = getattr(form, name).data
        if value:
            args[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return args


def _days() -> int:
    days = request.args.get("days", 30, type=int)
    return days if days in CHART_DAYS else 30


@bp.route("/suppression")
def index():
    form = FilterForm(request.args)
    filters = _filters(form)
    page = service.entry_page(g.client, filters, request.args.get("page", 1, type=int))
    days = _days()
    data = service.daily_counts(g.client, days)
    bars, peak = chart.bars(data)
    counts = service.reason_counts(g.client)
    return render_template(
        "suppressions/index.html",
        form=form,
        page=page,
        filter_args=_filter_args(form),
        filtered=bool(_filter_args(form)),
        names=service.user_names({e.created_by_id for e in page.items}),
        counts=counts,
        total=sum(counts.values()),
        reasons=list(REASON_LABELS),
        days=days,
        chart_days=CHART_DAYS,
        chart_data=data,
        bars=bars,
        peak=peak,
        chart_size=(chart.WIDTH, chart.HEIGHT),
        protected=PROTECTED_REASONS,
    )


@bp.route("/suppression/chart.json")
def chart_data():
    data = service.daily_counts(g.client, _days())
    data["labels"] = {r: str(REASON_LABELS.get(r, r)) for r in data["series"]}
    return jsonify(data)


@bp.route("/suppression/add", methods=["GET", "POST"])
@roles_required(*WRITERS)
def add():
    form = AddForm()
    result = None
    if form.validate_on_submit():
        try:
            result = service.add_many(
                actor=_actor(),
                client=g.client,
                channel=form.channel.data,
                lines=form.addresses.data,
                reason=form.reason.data,
                note=form.note.data or "",
            )
        except DomainError as exc:
            db.session.rollback()
            form.addresses.errors = [*form.addresses.errors, str(exc)]
        else:
            db.session.commit()
            if not result.problems:
                flash(_("%(n)s entries added to the suppression list.", n=result.added), "success")
                return redirect(url_for("suppressions.index"))
    return render_template("suppressions/add.html", form=form, result=result)


def _entry_or_404(entry_id: int):
    try:
        return service.get_entry(entry_id, g.client)
    except NotFound:
        abort(404)


@bp.route("/suppression/<int:entry_id>/remove", methods=["GET", "POST"])
@roles_required(*ADMINS)
def remove(entry_id: int):
    entry = _entry_or_404(entry_id)
    form = RemoveForm()
    protected = entry.reason in PROTECTED_REASONS
    allowed = service.can_remove(_actor(), entry)
    if form.validate_on_submit():
        try:
            service.remove(actor=_actor(), entry=entry, reason_text=form.why.data or "")
        except DomainError as exc:
            db.session.rollback()
            form.why.errors = [*form.why.errors, str(exc)]
        else:
            db.session.commit()
            flash(_("%(address)s was removed from the suppression list.", address=entry.address), "success")
            return redirect(url_for("suppressions.index"))
    status = 200 if request.method == "GET" or not form.errors else 422
    return (
        render_template(
            "suppressions/remove.html", entry=entry, form=form, protected=protected, allowed=allowed
        ),
        status,
    )


@bp.route("/suppression/export.csv")
@roles_required(*WRITERS)
def export():
    """A streamed download (keyset batches), filtered like the page; every cell formula-safe."""
    filters = _filters(FilterForm(request.args))
    agency_id, client_id = g.client.agency_id, g.client.id

    def generate():
        with bind_tenant(agency_id, client_id):
            client = db.session.scalar(select(Client).where(Client.id == client_id))
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\r\n")
            out.write("\ufeff")
            writer.writerow(["address", "channel", "reason", "source", "note", "added_at_utc", "added_by"])
            for rows in service.export_rows(client, filters):
                names = service.user_names({e.created_by_id for e in rows})
                for e in rows:
                    writer.writerow(
                        [
                            safe_cell(v)
                            for v in (
                                e.address,
                                e.channel,
                                e.reason,
                                export_source(e.source),
                                e.note,
                                e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                                names.get(e.created_by_id, ""),
                            )
                        ]
                    )
                yield out.getvalue()
                out.seek(0)
                out.truncate()
            if out.getvalue():
                yield out.getvalue()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="suppression-list.csv"'},
    )
