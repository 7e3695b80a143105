"""What recipients reach from campaign email. No login, no cookies needed: the token is the only context.

Every endpoint verifies its HMAC token (`portal.mail.tokens.read`) before any query and answers 404 on
failure; the delivery is then loaded within the host's agency only, so one agency's token on another
agency's host is a 404 like an unknown one. The rest of the work runs with the delivery's client bound.
Token number 0 is a test send: a harmless page (or pixel), nothing recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response, abort, flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import csrf, db
from ..links import agency_base_url
from ..mail import tokens
from ..mail.render import ContentError, Links, html_to_text, prepare, render
from ..models import Campaign, Client, Contact, Delivery, ImageAsset, MailingList, Subscription
from ..models.audience import CHANNEL_EMAIL, SUB_SUBSCRIBED
from ..netutil import client_ip
from ..services import DomainError, NotFound, events
from ..services import suppression as suppression_svc
from ..tenancy import bind_tenant
from . import bp

TEST_DELIVERY = 0
# 43 bytes: the classic 1×1 transparent GIF89a.
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
VIEW_CSP = "sandbox; default-src 'none'; img-src * data:; style-src 'unsafe-inline'"
IMAGE_CSP = "default-src 'none'; sandbox"
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
_IMAGE_TOKEN_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _delivery_id(purpose: str, token: str) -> int:
    """Verify first, query later: a tampered or foreign-purpose token never reaches the database."""
    numbers = tokens.read(purpose, token)
    if numbers is None:
        abort(404)
    return numbers[0]


def _load(delivery_id: int) -> Delivery:
    # Agency of the host only, whatever client a signed-in visitor may have bound for this request.
    with bind_tenant(g.agency.id):
        delivery = db.session.scalar(
            select(Delivery).where(Delivery.id == delivery_id, Delivery.agency_id == g.agency.id)
        )
    if delivery is None:
        abort(404)
    return delivery


def _client_name(delivery: Delivery) -> str:
    return db.session.scalar(select(Client.name).where(Client.id == delivery.client_id)) or ""


def _test_page():
    return render_template("mailpublic/test_message.html")


# --- one-click unsubscribe (RFC 8058) -------------------------------------------------------------------


@bp.route("/u/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    """GET/HEAD: a confirmation page that changes nothing (link scanners prefetch). POST (mailbox
    provider's one-click, or the page's button): unsubscribe, 200 directly — no redirect — every time."""
    delivery_id = _delivery_id("unsubscribe", token)
    if delivery_id == TEST_DELIVERY:
        return _test_page()
    delivery = _load(delivery_id)
    with bind_tenant(g.agency.id, delivery.client_id):
        name = _client_name(delivery)
        preferences = url_for("mailpublic.preferences", token=tokens.make("preferences", delivery.id))
        if request.method != "POST":
            return render_template(
                "mailpublic/unsubscribe.html", client_name=name, email=delivery.address, done=False
            )
        events.apply_unsubscribe(delivery, source="one-click")
        db.session.commit()
    return render_template(
        "mailpublic/unsubscribe.html",
        client_name=name,
        email=None,
        done=True,
        preferences_url=preferences,
    )


# --- preferences ---------------------------------------------------------------------------------------


@dataclass
class ListChoice:
    id: int
    name: str
    subscribed: bool


def _choices(delivery: Delivery) -> list[ListChoice]:
    rows = db.session.execute(
        select(MailingList.id, MailingList.name, MailingList.public_name, Subscription.status)
        .join(Subscription, Subscription.list_id == MailingList.id)
        .where(
            Subscription.contact_id == delivery.contact_id,
            Subscription.client_id == delivery.client_id,
            Subscription.channel == CHANNEL_EMAIL,
        )
        .order_by(MailingList.name)
    ).all()
    return [ListChoice(lid, public or name, status == SUB_SUBSCRIBED) for lid, name, public, status in rows]


@bp.route("/p/<token>", methods=["GET", "POST"])
@csrf.exempt
def preferences(token: str):
    """Token-bound, so CSRF-exempt: a forged POST needs the recipient's token, which is the secret."""
    delivery_id = _delivery_id("preferences", token)
    if delivery_id == TEST_DELIVERY:
        return _test_page()
    delivery = _load(delivery_id)
    with bind_tenant(g.agency.id, delivery.client_id):
        if request.method == "POST":
            action = request.form.get("action", "")
            list_id = request.form.get("list_id", "")
            try:
                if action == "all":
                    events.unsubscribe_everything(delivery)
                    message = _("You will no longer receive any email from us.")
                elif action in ("subscribe", "unsubscribe") and list_id.isdigit():
                    if action == "unsubscribe":
                        events.unsubscribe_list(delivery, int(list_id))
                        message = _("You have left the list.")
                    else:
                        events.resubscribe_list(delivery, int(list_id), ip=client_ip())
                        message = _("You have joined the list again.")
                else:
                    abort(400)
                db.session.commit()
                flash(message, "success")
            except NotFound:
                db.session.rollback()
                abort(404)
            except DomainError as exc:
                db.session.rollback()
                flash(str(exc), "error")
            return redirect(url_for("mailpublic.preferences", token=token), 303)
        client = db.session.scalar(select(Client).where(Client.id == delivery.client_id))
        suppressed = suppression_svc.suppression_reason(client, CHANNEL_EMAIL, delivery.address) is not None
        return render_template(
            "mailpublic/preferences.html",
            client_name=client.name if client else "",
            email=delivery.address,
            choices=_choices(delivery),
            suppressed=suppressed,
        )


# --- open pixel and click redirect ---------------------------------------------------------------------


@bp.route("/o/<token>.gif")
def open_pixel(token: str):
    delivery_id = _delivery_id("open", token)
    if delivery_id != TEST_DELIVERY:
        delivery = _load(delivery_id)
        with bind_tenant(g.agency.id, delivery.client_id):
            events.record_event(delivery, "open", events.unique_id("open", delivery))
            db.session.commit()
    response = Response(PIXEL, mimetype="image/gif")
    response.headers["Cache-Control"] = "no-store"
    return response


def _campaign_links(campaign: Campaign) -> list[str]:
    """The campaign's own tracked URLs. Stored at send time; otherwise numbered again from the HTML the
    way the sender numbered them (campaigns are not editable once sent)."""
    if campaign.links:
        return list(campaign.links)
    try:
        return prepare("", campaign.html or "", "", track_clicks=True).links
    except ContentError:
        return []


@bp.route("/c/<token>/<int:n>")
def click(token: str, n: int):
    """Redirects only to the campaign's own link number n — never to a URL taken from the request."""
    delivery_id = _delivery_id("click", token)
    if delivery_id == TEST_DELIVERY:
        return _test_page()
    delivery = _load(delivery_id)
    with bind_tenant(g.agency.id, delivery.client_id):
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == delivery.campaign_id))
        links = _campaign_links(campaign) if campaign is not None else []
        if n >= len(links):
            abort(404)
        url = links[n]
        if not url.lower().startswith(("https://", "http://")):
            abort(404)
        events.record_event(delivery, "click", events.unique_id("click", delivery), detail=url, link_index=n)
        db.session.commit()
    return redirect(url, 302)


# --- view in browser -----------------------------------------------------------------------------------


@bp.route("/v/<token>")
def view(token: str):
    """The recipient's own copy, served with a CSP sandbox: user-authored HTML never runs script on the
    agency's origin. The open pixel is left out (viewing here is not counted again)."""
    delivery_id = _delivery_id("view", token)
    if delivery_id == TEST_DELIVERY:
        return _test_page()
    delivery = _load(delivery_id)
    with bind_tenant(g.agency.id, delivery.client_id):
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == delivery.campaign_id))
        if campaign is None:
            abort(404)
        contact = db.session.scalar(select(Contact).where(Contact.id == delivery.contact_id))
        values = dict(contact.fields or {}) if contact is not None else {}
        values.update(email=delivery.address, phone=(contact.phone if contact else "") or "")
        base = agency_base_url(g.agency)
        links = Links(
            unsubscribe_url=f"{base}/u/{tokens.make('unsubscribe', delivery.id)}",
            preferences_url=f"{base}/p/{tokens.make('preferences', delivery.id)}",
            view_url=f"{base}/v/{token}",
            open_url=None,
            click_base=f"{base}/c/{tokens.make('click', delivery.id)}",
        )
        text_part = campaign.text if campaign.text_edited and campaign.text.strip() else ""
        try:
            prepared = prepare(
                campaign.subject,
                campaign.html or "",
                text_part or html_to_text(campaign.html or ""),
                track_clicks=campaign.track_clicks,
            )
            subject, html, text = render(prepared, values, links)
        except ContentError:
            abort(404)
    if not html:
        from html import escape

        html = f"<!doctype html><title>{escape(subject)}</title><pre>{escape(text)}</pre>"
    response = make_response(html)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Content-Security-Policy"] = VIEW_CSP
    response.headers["Cache-Control"] = "no-store"
    return response


# --- library images ------------------------------------------------------------------------------------


@bp.route("/img/<token>")
def image(token: str):
    """A library image by its unguessable name, within the host's agency only."""
    if not (8 <= len(token) <= 32) or not set(token) <= _IMAGE_TOKEN_CHARS:
        abort(404)
    with bind_tenant(g.agency.id):
        asset = db.session.scalar(
            select(ImageAsset).where(ImageAsset.token == token, ImageAsset.agency_id == g.agency.id)
        )
        if asset is None:
            abort(404)
        data, mime = asset.data, asset.mime
    response = Response(data, mimetype=mime if mime in IMAGE_TYPES else "application/octet-stream")
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["Content-Security-Policy"] = IMAGE_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    if mime not in IMAGE_TYPES:
        response.headers["Content-Disposition"] = "attachment"
    return response
