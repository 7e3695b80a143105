"""The agency's SMS pages: the pool and every client's credits and volumes, sender-id approvals, the
price list and the opt-out keywords; per client the ledger with allocate / take back and a CSV export."""

from __future__ import annotations

import csv
import io

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..csvsafe import safe_cell
from ..extensions import db
from ..services import DomainError, NotFound
from ..services import clients as client_service
from . import credits, inbound, pricing, senders
from .agency_queries import client_volumes
from .forms import CreditMoveForm, KeywordsForm, PriceForm
from .web import agency_bp as bp


def _actor():
    return current_user._get_current_object()


def _client_or_404(client_id: int):
    try:
        return client_service.get_client(client_id)
    except NotFound:
        abort(404)


@bp.route("")
def overview():
    agency_id = g.agency.id
    clients = client_service.list_clients()
    return render_template(
        "sms/agency/overview.html",
        pool=credits.balance(agency_id),
        clients=clients,
        balances={c.id: credits.balance(agency_id, c.id) for c in clients},
        volumes=client_volumes(agency_id),
        pending=senders.senders_of(status="requested"),
        client_names={c.id: c.name for c in clients},
        prices=sorted(pricing.price_list(agency_id).items()),
        price_form=PriceForm(prefix="price"),
        keywords_form=KeywordsForm(
            prefix="kw", data={"keywords": ", ".join(sorted(inbound.stop_keywords(agency_id)))}
        ),
    )


@bp.route("/senders/<int:sender_id>", methods=["POST"])
def decide_sender(sender_id: int):
    try:
        sender = senders.get_sender(sender_id)
    except NotFound:
        abort(404)
    approve = request.form.get("decision") == "approve"
    senders.decide(actor=_actor(), sender=sender, approve=approve, note=request.form.get("note", ""))
    db.session.commit()
    flash(_("Sender id approved.") if approve else _("Sender id rejected."), "success")
    return redirect(url_for("smsagency.overview"))


@bp.route("/prices", methods=["POST"])
def set_price():
    form = PriceForm(prefix="price")
    if form.validate_on_submit():
        try:
            pricing.set_price(
                agency_id=g.agency.id,
                country=form.country.data,
                credits_per_segment=form.credits_per_segment.data,
            )
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("Price saved."), "success")
    else:
        flash(_("Give a country and a number of credits per segment."), "error")
    return redirect(url_for("smsagency.overview"))


@bp.route("/keywords", methods=["POST"])
def set_keywords():
    form = KeywordsForm(prefix="kw")
    if form.validate_on_submit():
        try:
            inbound.set_stop_keywords(g.agency.id, form.keywords.data)
        except ValueError as exc:
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("Opt-out keywords saved."), "success")
    return redirect(url_for("smsagency.overview"))


@bp.route("/clients/<int:client_id>", methods=["GET", "POST"])
def client_credits(client_id: int):
    client = _client_or_404(client_id)
    form = CreditMoveForm()
    if request.method == "POST" and form.validate_on_submit():
        move = credits.allocate if request.form.get("direction") != "revoke" else credits.revoke
        try:
            move(actor=_actor(), client=client, amount=form.amount.data, note=form.note.data or "")
        except DomainError as exc:
            db.session.rollback()
            form.amount.errors = [*form.amount.errors, str(exc)]
        else:
            db.session.commit()
            flash(_("Credits updated."), "success")
            return redirect(url_for("smsagency.client_credits", client_id=client.id))
    return render_template(
        "sms/agency/client.html",
        client=client,
        form=form,
        pool=credits.balance(g.agency.id),
        balance=credits.balance(g.agency.id, client.id),
        entries=credits.entries(g.agency.id, client.id),
    ), (400 if form.errors else 200)


@bp.route("/clients/<int:client_id>/ledger.csv")
def client_ledger_csv(client_id: int):
    client = _client_or_404(client_id)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["time", "kind", "credits", "campaign", "note"])
    for e in reversed(credits.entries(g.agency.id, client.id, limit=100_000)):
        writer.writerow([e.created_at.isoformat(), e.kind, e.amount, e.campaign_id or "", safe_cell(e.note)])
    return Response(
        buf.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="sms-credits-{client.slug}.csv"'},
    )
