"""Client-area webhook pages: endpoints (create — secret shown once —, rotate, enable, delete), the
delivery log with status, response code and timing, and replay."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..client import ADMINS, client_role
from ..extensions import db
from ..guards import require_area, roles_required
from ..models import WebhookDelivery
from ..services import DomainError, NotFound
from . import dispatch, endpoints
from .forms import EVENT_LABELS, WebhookForm

bp = Blueprint("webhooks", __name__, url_prefix="/app/webhooks")
bp.before_request(require_area("client"))
LOG_ROWS = 50


def _actor():
    return current_user._get_current_object()


def _hook_or_404(webhook_id: int):
    try:
        return endpoints.get_webhook(webhook_id)
    except NotFound:
        abort(404)


def _render_index(form: WebhookForm, new=None):
    return render_template(
        "webhooks/index.html",
        hooks=endpoints.list_webhooks(),
        form=form,
        new=new,
        can_admin=client_role() in ADMINS,
        event_labels=EVENT_LABELS,
    )


@bp.route("")
def index():
    return _render_index(WebhookForm())


@bp.route("", methods=["POST"])
@roles_required(*ADMINS)
def create():
    form = WebhookForm()
    if not form.validate_on_submit():
        return _render_index(form), 400
    try:
        hook, secret = endpoints.create_webhook(
            actor=_actor(),
            client=g.client,
            url=form.url.data,
            events=form.events.data,
            description=form.description.data or "",
        )
    except DomainError as exc:
        db.session.rollback()
        form.url.errors = [*form.url.errors, str(exc)]
        return _render_index(form), 400
    db.session.commit()
    return _render_index(WebhookForm(formdata=None), new=(hook, secret))


def _render_detail(hook, new_secret=None):
    log = list(
        db.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == hook.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(LOG_ROWS)
        )
    )
    return render_template(
        "webhooks/detail.html",
        hook=hook,
        log=log,
        new_secret=new_secret,
        can_admin=client_role() in ADMINS,
        event_labels=EVENT_LABELS,
    )


@bp.route("/<int:webhook_id>")
def detail(webhook_id: int):
    return _render_detail(_hook_or_404(webhook_id))


@bp.route("/<int:webhook_id>/rotate", methods=["POST"])
@roles_required(*ADMINS)
def rotate(webhook_id: int):
    hook = _hook_or_404(webhook_id)
    secret = endpoints.rotate_secret(actor=_actor(), client=g.client, hook=hook)
    db.session.commit()
    return _render_detail(hook, new_secret=secret)


@bp.route("/<int:webhook_id>/enable", methods=["POST"])
@roles_required(*ADMINS)
def enable(webhook_id: int):
    hook = _hook_or_404(webhook_id)
    try:
        endpoints.enable(actor=_actor(), client=g.client, hook=hook)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("webhooks.detail", webhook_id=hook.id))
    db.session.commit()
    flash(_("The endpoint is on again."), "success")
    return redirect(url_for("webhooks.detail", webhook_id=hook.id))


@bp.route("/<int:webhook_id>/delete", methods=["POST"])
@roles_required(*ADMINS)
def delete(webhook_id: int):
    hook = _hook_or_404(webhook_id)
    endpoints.delete_webhook(actor=_actor(), client=g.client, hook=hook)
    db.session.commit()
    flash(_("The endpoint was deleted."), "success")
    return redirect(url_for("webhooks.index"))


@bp.route("/<int:webhook_id>/deliveries/<int:delivery_id>/replay", methods=["POST"])
@roles_required(*ADMINS)
def replay(webhook_id: int, delivery_id: int):
    hook = _hook_or_404(webhook_id)
    delivery = db.session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.webhook_id == hook.id
        )
    )
    if delivery is None:
        abort(404)
    dispatch.replay(delivery)
    db.session.commit()
    flash(_("The message will be sent again in a moment, with the same webhook-id."), "success")
    return redirect(url_for("webhooks.detail", webhook_id=hook.id))
