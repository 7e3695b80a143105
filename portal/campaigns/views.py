"""Campaigns: list, new (blank or starter), compose with live preview, test send, review, send/schedule,
progress with pause/resume/cancel, duplicate, delete."""

from __future__ import annotations

from flask import abort, flash, g, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..guards import roles_required
from ..models.campaign import EDITABLE
from ..sending import control
from ..sending.audience import count_audience
from ..services import DomainError, NotFound
from ..services import campaigns as svc
from ..services import lists as list_svc
from ..services import segments as segment_svc
from . import WRITERS, bp
from .forms import STARTER_LABELS, STATUS_LABELS, CampaignForm, NewCampaignForm, ScheduleForm, TestSendForm


def _actor():
    return current_user._get_current_object()


def _campaign_or_404(campaign_id: int):
    try:
        return svc.get_campaign(campaign_id)
    except NotFound:
        abort(404)


def _can_write() -> bool:
    return bool(g.get("acting_as_client")) or current_user.role in WRITERS


def _with_preview_policy(html: str):
    """Pages with an email preview: the sandboxed srcdoc iframe inherits this page's CSP, and an email is
    made of inline styles (style attributes, <style> blocks) and images from anywhere over HTTPS. Scripts
    stay nonce-only (and the sandbox forbids them in the preview anyway)."""
    nonce = g.get("csp_nonce", "")
    response = make_response(html)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        f"style-src 'self' 'nonce-{nonce}'; "
        "style-src-elem 'self' 'unsafe-inline'; style-src-attr 'unsafe-inline'; "
        "img-src 'self' data: blob: https:; "
        "font-src 'self'; connect-src 'self'; form-action 'self'; "
        "frame-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
    )
    return response


@bp.app_template_global("campaign_status_label")
def campaign_status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


@bp.route("/campaigns")
def index():
    status = request.args.get("status", "")
    if status not in STATUS_LABELS:
        status = ""
    page = svc.campaign_page(status=status or None, page=request.args.get("page", 1, type=int))
    ids = [c.id for c in page.items]
    return render_template(
        "campaigns/index.html",
        page=page,
        status=status,
        counts=svc.status_counts(),
        deliveries=svc.delivery_counts(ids),
        status_labels=STATUS_LABELS,
        local=lambda dt: svc.utc_to_local(g.client, dt),
    )


@bp.route("/campaigns/new", methods=["GET", "POST"])
@roles_required(*WRITERS)
def new():
    form = NewCampaignForm()
    if form.validate_on_submit():
        try:
            campaign = svc.create_campaign(
                actor=_actor(), client=g.client, name=form.name.data, starter=form.starter.data or ""
            )
        except DomainError as exc:
            db.session.rollback()
            form.name.errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("The campaign %(name)s is ready to write.", name=campaign.name), "success")
            return redirect(url_for("campaigns.edit", campaign_id=campaign.id))
    return render_template("campaigns/new.html", form=form, starters=STARTER_LABELS)


def _form(campaign=None, **kw) -> CampaignForm:
    return CampaignForm(
        obj=campaign,
        senders=svc.senders_of_client(),
        lists=list_svc.list_lists(),
        segments=segment_svc.list_segments(),
        **kw,
    )


@bp.route("/campaigns/<int:campaign_id>", methods=["GET", "POST"])
def edit(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    if request.method == "POST" and not _can_write():
        abort(403)
    if campaign.status not in EDITABLE or not _can_write():
        if request.method == "POST":
            flash(_("Only a draft or a scheduled campaign can be changed."), "error")
            return redirect(url_for("campaigns.edit", campaign_id=campaign.id))
        return _show(campaign)
    form = _form(campaign)
    if request.method == "GET":
        audience = campaign.audience or {}
        for key in ("lists", "segments", "exclude_lists", "exclude_segments"):
            getattr(form, key).data = [int(i) for i in audience.get(key, [])]
        form.sender_id.data = str(campaign.sender_id or "")
    if form.validate_on_submit():
        regenerate = bool(form.regenerate.data)
        values = svc.CampaignValues(
            name=form.name.data or "",
            subject=form.subject.data or "",
            preheader=form.preheader.data or "",
            sender_id=int(form.sender_id.data) if form.sender_id.data else None,
            reply_to=form.reply_to.data or "",
            html=form.html.data or "",
            text=form.text.data or "",
            text_edited=bool(form.text_edited.data) and not regenerate,
            audience={
                k: getattr(form, k).data or []
                for k in ("lists", "segments", "exclude_lists", "exclude_segments")
            },
            track_opens=bool(form.track_opens.data),
            track_clicks=bool(form.track_clicks.data),
        )
        try:
            svc.update_campaign(actor=_actor(), client=g.client, campaign=campaign, values=values)
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            if regenerate:
                flash(_("The plain text is generated again from the HTML."), "success")
            else:
                flash(_("The campaign %(name)s is saved.", name=campaign.name), "success")
            return redirect(url_for("campaigns.edit", campaign_id=campaign.id))
    elif request.method == "POST" and form.errors:
        flash(_("Please correct the highlighted fields."), "error")
    preview = svc.render_preview(
        subject=form.subject.data or "",
        preheader=form.preheader.data or "",
        html=form.html.data or "",
        text=(form.text.data or "") if form.text_edited.data else None,
        values=svc.sample_values(svc.fields_of_client()),
    )
    return _with_preview_policy(
        render_template(
            "campaigns/edit.html",
            campaign=campaign,
            form=form,
            preview=preview,
            fields=svc.fields_of_client(),
            test_form=TestSendForm(),
            scheduled_local=svc.utc_to_local(g.client, campaign.scheduled_at),
        )
    )


def _show(campaign):
    preview = svc.render_preview(
        subject=campaign.subject,
        preheader=campaign.preheader,
        html=campaign.html,
        text=campaign.text if campaign.text_edited else None,
        values=svc.sample_values(svc.fields_of_client()),
    )
    sender = next((i for i, _d in svc.senders_of_client() if i.id == campaign.sender_id), None)
    return _with_preview_policy(
        render_template(
            "campaigns/show.html",
            campaign=campaign,
            preview=preview,
            sender=sender,
            stats=svc.progress(campaign),
            local=lambda dt: svc.utc_to_local(g.client, dt),
        )
    )


@bp.route("/campaigns/<int:campaign_id>/preview", methods=["POST"])
def preview(campaign_id: int):
    """JSON in (subject, preheader, html, text, text_edited), JSON out: the preview with sample values."""
    _campaign_or_404(campaign_id)
    data = request.get_json(silent=True) or {}

    def text_of(key: str, limit: int) -> str:
        value = data.get(key, "")
        return value[:limit] if isinstance(value, str) else ""

    result = svc.render_preview(
        subject=text_of("subject", 255),
        preheader=text_of("preheader", 255),
        html=text_of("html", 1_000_000),
        text=text_of("text", 500_000) if data.get("text_edited") else None,
        values=svc.sample_values(svc.fields_of_client()),
    )
    return jsonify(result)


@bp.route("/campaigns/<int:campaign_id>/test", methods=["POST"])
@roles_required(*WRITERS)
def test_send(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    form = TestSendForm()
    if not form.validate_on_submit():
        for error in form.addresses.errors:
            flash(str(error), "error")
        return redirect(url_for("campaigns.edit", campaign_id=campaign.id, _anchor="test"))
    try:
        n = svc.send_test(actor=_actor(), client=g.client, campaign=campaign, addresses=form.clean_addresses)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(
            _("A test was sent to %(addresses)s.", addresses=", ".join(form.clean_addresses))
            if n
            else _("No test was sent."),
            "success",
        )
    return redirect(url_for("campaigns.edit", campaign_id=campaign.id, _anchor="test"))


@bp.route("/campaigns/<int:campaign_id>/review")
@roles_required(*WRITERS)
def review(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    if campaign.status not in EDITABLE:
        return redirect(url_for("campaigns.edit", campaign_id=campaign.id))
    problem, audience = "", None
    try:
        control.ready_to_send(campaign)
    except DomainError as exc:
        problem = str(exc)
    try:
        audience = count_audience(g.client, campaign.audience or {})
    except DomainError as exc:
        problem = problem or str(exc)
    sender = next((i for i, _d in svc.senders_of_client() if i.id == campaign.sender_id), None)
    used = control.emails_used_this_month(g.client)
    schedule_form = ScheduleForm()
    local = svc.utc_to_local(g.client, campaign.scheduled_at)
    if local and request.method == "GET":
        schedule_form.when.data = local.replace(tzinfo=None)
    return render_template(
        "campaigns/review.html",
        campaign=campaign,
        problem=problem,
        audience=audience,
        sender=sender,
        used=used,
        quota=g.client.email_quota_month,
        schedule_form=schedule_form,
        zone=svc.client_zone(g.client).key,
        scheduled_local=local,
    )


@bp.route("/campaigns/<int:campaign_id>/send", methods=["POST"])
@roles_required(*WRITERS)
def send(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    try:
        n = control.start_send(actor=_actor(), client=g.client, campaign=campaign)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("campaigns.review", campaign_id=campaign_id))
    db.session.commit()
    flash(_("Sending %(name)s to %(n)s recipients.", name=campaign.name, n=f"{n:,}"), "success")
    return redirect(url_for("campaigns.edit", campaign_id=campaign_id))


@bp.route("/campaigns/<int:campaign_id>/schedule", methods=["POST"])
@roles_required(*WRITERS)
def schedule(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    form = ScheduleForm()
    if not form.validate_on_submit() or form.when.data is None:
        flash(_("Choose a date and time."), "error")
        return redirect(url_for("campaigns.review", campaign_id=campaign_id))
    try:
        svc.schedule_local(actor=_actor(), client=g.client, campaign=campaign, local=form.when.data)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("campaigns.review", campaign_id=campaign_id))
    db.session.commit()
    flash(
        _(
            "%(name)s will be sent on %(when)s (%(zone)s).",
            name=campaign.name,
            when=form.when.data.strftime("%Y-%m-%d %H:%M"),
            zone=svc.client_zone(g.client).key,
        ),
        "success",
    )
    return redirect(url_for("campaigns.index"))


def _control(campaign_id: int, action, done_message: str):
    campaign = _campaign_or_404(campaign_id)
    try:
        action(actor=_actor(), campaign=campaign)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(done_message % {"name": campaign.name}, "success")
    return redirect(url_for("campaigns.edit", campaign_id=campaign_id))


@bp.route("/campaigns/<int:campaign_id>/unschedule", methods=["POST"])
@roles_required(*WRITERS)
def unschedule(campaign_id: int):
    return _control(campaign_id, control.unschedule, _("%(name)s is a draft again."))


@bp.route("/campaigns/<int:campaign_id>/pause", methods=["POST"])
@roles_required(*WRITERS)
def pause(campaign_id: int):
    return _control(campaign_id, control.pause, _("%(name)s is paused."))


@bp.route("/campaigns/<int:campaign_id>/resume", methods=["POST"])
@roles_required(*WRITERS)
def resume(campaign_id: int):
    return _control(campaign_id, control.resume, _("%(name)s is sending again."))


@bp.route("/campaigns/<int:campaign_id>/cancel", methods=["POST"])
@roles_required(*WRITERS)
def cancel(campaign_id: int):
    return _control(campaign_id, control.cancel, _("%(name)s is cancelled."))


@bp.route("/campaigns/<int:campaign_id>/progress.json")
def progress(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    return jsonify(svc.progress(campaign))


@bp.route("/campaigns/<int:campaign_id>/duplicate", methods=["POST"])
@roles_required(*WRITERS)
def duplicate(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    copy = svc.duplicate(actor=_actor(), client=g.client, campaign=campaign)
    db.session.commit()
    flash(_("%(name)s is a new draft.", name=copy.name), "success")
    return redirect(url_for("campaigns.edit", campaign_id=copy.id))


@bp.route("/campaigns/<int:campaign_id>/delete", methods=["POST"])
@roles_required(*WRITERS)
def delete(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    name = campaign.name
    try:
        svc.delete_draft(actor=_actor(), client=g.client, campaign=campaign)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("campaigns.edit", campaign_id=campaign_id))
    db.session.commit()
    flash(_("The draft %(name)s is deleted.", name=name), "success")
    return redirect(url_for("campaigns.index"))
