"""The client's SMS pages: campaigns (write with a live counter, audience, cost, test, send, cancel,
report with CSV), sender ids, credits (balance and ledger), replies."""

from __future__ import annotations

import csv
import io

from flask import Response, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..csvsafe import safe_cell
from ..extensions import db
from ..guards import roles_required
from ..models.campaign import EDITABLE
from ..models.user import ROLE_CLIENT_ADMIN
from ..services import DomainError, NotFound
from ..services import lists as list_svc
from ..services import segments as segment_svc
from ..services.campaigns import utc_to_local
from . import campaigns as svc
from . import client_settings, credits, inbound, pricing, scheduling, senders, timeline
from .forms import (
    NewSmsForm,
    QuietHoursForm,
    ScheduleSmsForm,
    SenderRequestForm,
    SmsCampaignForm,
    TestSmsForm,
)
from .sending import estimate, start_sms_send
from .web import WRITERS, bp


def _actor():
    return current_user._get_current_object()


def _campaign_or_404(campaign_id: int):
    try:
        return svc.get_sms_campaign(campaign_id)
    except NotFound:
        abort(404)


def _can_write() -> bool:
    return bool(g.get("acting_as_client")) or current_user.role in WRITERS


def _default_price() -> int:
    prices = pricing.price_list(g.client.agency_id)
    region = (g.client.default_region or "").upper()
    return prices.get(region, prices.get(pricing.ANY_COUNTRY, pricing.DEFAULT_CREDITS_PER_SEGMENT))


@bp.route("")
def index():
    start, end = client_settings.quiet_hours(g.client.id)
    return render_template(
        "sms/index.html",
        campaigns=svc.sms_campaigns(),
        balance=credits.balance(g.client.agency_id, g.client.id),
        form=NewSmsForm(),
        quiet_form=QuietHoursForm(data={"start": start, "end": end}),
        can_write=_can_write(),
        can_admin=bool(g.get("acting_as_client")) or current_user.role == ROLE_CLIENT_ADMIN,
    )


@bp.route("/quiet-hours", methods=["POST"])
@roles_required(ROLE_CLIENT_ADMIN)
def quiet_hours():
    form = QuietHoursForm()
    if form.validate_on_submit():
        try:
            client_settings.set_quiet_hours(
                actor=_actor(), client=g.client, start=form.start.data or "", end=form.end.data or ""
            )
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("Quiet hours saved."), "success")
    return redirect(url_for("sms.index"))


@bp.route("/new", methods=["POST"])
@roles_required(*WRITERS)
def new():
    form = NewSmsForm()
    if not form.validate_on_submit():
        flash(_("A campaign needs a name."), "error")
        return redirect(url_for("sms.index"))
    campaign = svc.create_sms_campaign(actor=_actor(), client=g.client, name=form.name.data)
    db.session.commit()
    flash(_("The SMS campaign %(name)s is ready to write.", name=campaign.name), "success")
    return redirect(url_for("sms.edit", campaign_id=campaign.id))


@bp.route("/count", methods=["POST"])
def count_text():
    """The live counter: the server's own figures for the text being typed (one source of truth)."""
    text = (
        (request.get_json(silent=True) or {}).get("text", "")
        if request.is_json
        else request.form.get("text", "")
    )
    return jsonify(svc.count_with_cost(str(text)[:5000], _default_price()))


def _form(campaign, **kw) -> SmsCampaignForm:
    return SmsCampaignForm(
        svc.approved_senders(g.client.id), list_svc.list_lists(), segment_svc.list_segments(), **kw
    )


@bp.route("/<int:campaign_id>", methods=["GET", "POST"])
def edit(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    editable = campaign.status in EDITABLE and _can_write()
    if request.method == "POST" and not editable:
        abort(403)
    form = _form(campaign)
    if request.method == "GET":
        form.name.data, form.text.data = campaign.name, campaign.text
        form.sender.data = str(campaign.sms_sender_id or "")
        form.lists.data = (campaign.audience or {}).get("lists", [])
        form.segments.data = (campaign.audience or {}).get("segments", [])
    elif form.validate_on_submit():
        try:
            svc.save_sms_campaign(
                actor=_actor(),
                campaign=campaign,
                name=form.name.data,
                sender_id=int(form.sender.data) if form.sender.data else None,
                text=form.text.data or "",
                lists=form.lists.data,
                segments=form.segments.data,
            )
        except DomainError as exc:
            db.session.rollback()
            form.text.errors = [*form.text.errors, str(exc)]
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("sms.edit", campaign_id=campaign.id))
    return render_template(
        "sms/edit.html",
        campaign=campaign,
        form=form,
        test_form=TestSmsForm(prefix="test"),
        schedule_form=ScheduleSmsForm(prefix="schedule"),
        scheduled_local=utc_to_local(g.client, campaign.scheduled_at),
        editable=editable,
        estimate=estimate(g.client, campaign),
        counted=svc.count_with_cost(campaign.text or "", _default_price()),
    )


@bp.route("/<int:campaign_id>/test", methods=["POST"])
@roles_required(*WRITERS)
def test(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    form = TestSmsForm(prefix="test")
    if form.validate_on_submit():
        try:
            number = svc.test_send(
                actor=_actor(), client=g.client, campaign=campaign, raw_number=form.number.data
            )
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(_("A test SMS went to %(number)s.", number=number), "success")
    return redirect(url_for("sms.edit", campaign_id=campaign.id))


@bp.route("/<int:campaign_id>/send", methods=["POST"])
@roles_required(*WRITERS)
def send(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    try:
        recipients = start_sms_send(actor=_actor(), client=g.client, campaign=campaign)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("sms.edit", campaign_id=campaign.id))
    db.session.commit()
    flash(_("Sending to %(n)s recipients.", n=f"{recipients:,}"), "success")
    return redirect(url_for("sms.report", campaign_id=campaign.id))


@bp.route("/<int:campaign_id>/schedule", methods=["POST"])
@roles_required(*WRITERS)
def schedule(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    form = ScheduleSmsForm(prefix="schedule")
    if not form.validate_on_submit() or form.when.data is None:
        flash(_("Choose a date and time."), "error")
        return redirect(url_for("sms.edit", campaign_id=campaign.id))
    try:
        scheduling.schedule_sms(actor=_actor(), client=g.client, campaign=campaign, local=form.when.data)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(
            _(
                "%(name)s will be sent on %(when)s (%(zone)s); its credits are reserved.",
                name=campaign.name,
                when=form.when.data.strftime("%Y-%m-%d %H:%M"),
                zone=g.client.timezone,
            ),
            "success",
        )
    return redirect(url_for("sms.edit", campaign_id=campaign.id))


@bp.route("/<int:campaign_id>/unschedule", methods=["POST"])
@roles_required(*WRITERS)
def unschedule(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    try:
        scheduling.unschedule_sms(actor=_actor(), campaign=campaign)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(_("The campaign is a draft again; its credits are available again."), "success")
    return redirect(url_for("sms.edit", campaign_id=campaign.id))


@bp.route("/<int:campaign_id>/cancel", methods=["POST"])
@roles_required(*WRITERS)
def cancel(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    try:
        svc.cancel_sms(actor=_actor(), campaign=campaign)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(
            _("The campaign was cancelled; the credits of messages not sent are available again."), "success"
        )
    return redirect(url_for("sms.report", campaign_id=campaign.id))


@bp.route("/<int:campaign_id>/report")
def report(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    return render_template(
        "sms/report.html",
        campaign=campaign,
        figures=svc.report_figures(campaign),
        timeline=timeline.hourly(campaign),
        rows=svc.recipient_rows(campaign),
        can_write=_can_write(),
    )


@bp.route("/<int:campaign_id>/report.csv")
def report_csv(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)

    def generate():
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["number", "status", "segments", "credits", "credit_state", "sent_at", "error"])
        for rows in svc.recipient_export(campaign):
            for d in rows:
                writer.writerow(
                    [
                        safe_cell(d.address),
                        d.status,
                        d.segments,
                        d.credits,
                        d.credit_state,
                        d.sent_at.isoformat() if d.sent_at else "",
                        safe_cell(d.error),
                    ]
                )
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()

    return Response(
        generate(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="sms-campaign-{campaign.id}.csv"'},
    )


@bp.route("/senders", methods=["GET", "POST"])
def sender_ids():
    form = SenderRequestForm()
    if request.method == "POST":
        if not _can_write():
            abort(403)
        if form.validate_on_submit():
            try:
                senders.request_sender(actor=_actor(), client=g.client, value=form.value.data)
            except DomainError as exc:
                db.session.rollback()
                form.value.errors = [*form.value.errors, str(exc)]
            else:
                db.session.commit()
                flash(_("Requested. Your agency will approve it."), "success")
                return redirect(url_for("sms.sender_ids"))
    return render_template(
        "sms/senders.html", senders=senders.senders_of(g.client.id), form=form, can_write=_can_write()
    )


@bp.route("/credits")
def ledger():
    return render_template(
        "sms/credits.html",
        balance=credits.balance(g.client.agency_id, g.client.id),
        entries=credits.entries(g.client.agency_id, g.client.id),
    )


@bp.route("/replies")
def replies():
    return render_template("sms/replies.html", replies=inbound.replies(g.client.id))
