"""The public side of a form, on the agency's domain: hosted page, submission, confirmation page.

The submission takes a plain HTML form post (the embed snippet works with no script) or the embed
script's fetch (`Accept: application/json`). Cross-origin it answers only the form's own sites: a
request whose `Origin` is neither this host nor one of them is refused before anything is written, and
CORS headers name that one origin. No CSRF token (the post comes from other sites by design); a hidden
honeypot field and per-IP and per-form rate limits keep robots out without a CAPTCHA service.
"""

from __future__ import annotations

from flask import Response, abort, g, jsonify, make_response, redirect, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import csrf, db, limiter
from ..headers import apply_security_headers
from ..models import Client, SubscribeForm
from ..models.audience import CHANNEL_EMAIL, CHANNEL_SMS
from ..netutil import client_ip
from ..tenancy import bind_tenant
from . import builder, confirm_mail, optin, public_bp

HONEYPOT = "website"  # a field people never see or fill; robots fill every field
PER_IP = "10 per minute"  # one visitor on one form
PER_FORM = "600 per hour"  # all visitors on one form


def _form_or_404(key: str) -> tuple[SubscribeForm, Client]:
    with bind_tenant(g.agency.id):
        form = builder.public_form(g.agency.id, key)
        client = db.session.scalar(select(Client).where(Client.id == form.client_id)) if form else None
    if form is None or client is None or not client.is_active:
        abort(404)
    return form, client


def _own_origin() -> str:
    return f"{request.scheme}://{request.host}".lower()


def _foreign_origin(form: SubscribeForm) -> str | None:
    """The request's Origin when it is neither this host nor one of the form's sites."""
    origin = (request.headers.get("Origin") or "").strip().lower()
    if not origin or origin == _own_origin() or origin in form.origins:
        return None
    return origin


@public_bp.after_request
def _cors(response):
    """CORS for the embed script: only the form's own sites, each named alone (never `*`)."""
    key = (request.view_args or {}).get("key")
    origin = (request.headers.get("Origin") or "").strip().lower()
    if not key or not origin or g.get("agency") is None:
        return response
    with bind_tenant(g.agency.id):
        form = builder.public_form(g.agency.id, key)
    if form is not None and origin in form.origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = "Accept, Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    response.headers.add("Vary", "Origin")
    return response


def _allow_redirect_target(response: Response, form: SubscribeForm) -> Response:
    """The hosted page posts to us and may be redirected to the client's page: browsers apply the
    page's CSP `form-action` to that redirect too, so the page's policy names the target's origin."""
    target = builder.origin_of(form.redirect_url) if form.redirect_url else None
    if target:
        policy = apply_security_headers(Response()).headers["Content-Security-Policy"]
        response.headers["Content-Security-Policy"] = policy.replace(
            "form-action 'self'", f"form-action 'self' {target}"
        )
    return response


def _render_page(form: SubscribeForm, client: Client, *, errors=None, values=None, status=200):
    with bind_tenant(g.agency.id, client.id):
        fields = builder.form_fields(form)
    with force_locale(form.language):
        html = render_template(
            "forms/hosted.html",
            subscribe_form=form,
            client_name=client.name,
            fields=fields,
            errors=errors or {},
            values=values or {},
            honeypot=HONEYPOT,
        )
    return _allow_redirect_target(make_response(html, status), form)


@public_bp.route("/f/<key>", methods=["GET"])
def hosted(key: str):
    form, client = _form_or_404(key)
    return _render_page(form, client)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _per_ip_key() -> str:
    return f"form-ip:{(request.view_args or {}).get('key', '')}:{client_ip()}"


def _per_form_key() -> str:
    return f"form:{(request.view_args or {}).get('key', '')}"


def _sign_up_from_request(form: SubscribeForm, client: Client) -> tuple[optin.SignUp, dict[str, str]]:
    errors: dict[str, str] = {}
    email = (request.form.get("email") or "").strip() if CHANNEL_EMAIL in form.channels else ""
    phone = (request.form.get("phone") or "").strip() if CHANNEL_SMS in form.channels else ""
    if form.double_opt_in and not email:
        # The confirmation goes by email: without an address a mobile number would be subscribed unconfirmed.
        errors["email"] = _("Enter your email address.")
    elif not email and not phone:
        key = "email" if CHANNEL_EMAIL in form.channels else "phone"
        errors[key] = _("Enter your email address.") if key == "email" else _("Enter your mobile number.")
    values = {}
    with bind_tenant(g.agency.id, client.id):
        for f, required in builder.form_fields(form):
            raw = (request.form.get(f.key) or "").strip()
            if required and not raw:
                errors[f.key] = _("%(label)s is required.", label=f.label)
            values[f.key] = raw
    if form.consent_text and not request.form.get("consent"):
        errors["consent"] = _("Please tick the box to agree.")
    data = optin.SignUp(
        email=email,
        phone=phone,
        values=values,
        list_ids=list(form.list_ids),
        channels=tuple(form.channels),
        double_opt_in=form.double_opt_in,
        source="form",
        form=form,
        ip=client_ip(),
        user_agent=request.headers.get("User-Agent", ""),
        consent_text=form.consent_text,
        locale=form.language,
    )
    return data, errors


def _done_message(form: SubscribeForm, outcome: str) -> str:
    if outcome == "pending":
        return _("Almost done: we sent you an email. Follow its link to confirm your subscription.")
    if outcome == "already":
        return _("You are already subscribed. Thank you!")
    return form.success_message or _("Thank you: you are subscribed.")


def _answer(form: SubscribeForm, client: Client, outcome: str):
    with force_locale(form.language):
        message = _done_message(form, outcome)
        # Double opt-in keeps the visitor on our page that says to check the mailbox; otherwise the
        # client's own page may take over.
        target = form.redirect_url if form.redirect_url and outcome != "pending" else None
        if _wants_json():
            return jsonify(ok=True, status=outcome, message=message, redirect=target)
        if target:
            return redirect(target, 303)
        return render_template("forms/done.html", client_name=client.name, message=message, title=form.title)


def _refuse(form: SubscribeForm, client: Client, errors: dict[str, str], values: dict, status: int = 400):
    if _wants_json():
        with force_locale(form.language):
            return jsonify(ok=False, errors=errors, message=" ".join(errors.values())), status
    return _render_page(form, client, errors=errors, values=values, status=status)


@public_bp.route("/f/<key>", methods=["POST"])
@csrf.exempt
@limiter.limit(PER_IP, key_func=_per_ip_key)
@limiter.limit(PER_FORM, key_func=_per_form_key)
def submit(key: str):
    form, client = _form_or_404(key)
    if _foreign_origin(form) is not None:
        abort(403)
    values = request.form.to_dict()
    if (request.form.get(HONEYPOT) or "").strip():
        return _answer(form, client, "pending" if form.double_opt_in else "subscribed")  # nothing written
    with force_locale(form.language):
        data, errors = _sign_up_from_request(form, client)
    if errors:
        return _refuse(form, client, errors, values)
    with bind_tenant(g.agency.id, client.id), force_locale(form.language):
        try:
            result = optin.sign_up(client, data)
        except optin.SignUpInvalid as exc:
            db.session.rollback()
            errors = {
                k if k in ("email", "phone") else k.removeprefix("field:"): v for k, v in exc.errors.items()
            }
            return _refuse(form, client, errors, values)
        except optin.SignUpRefused:
            db.session.rollback()
            message = _("This address cannot be subscribed. Please contact us if you think this is wrong.")
            return _refuse(form, client, {"email" if data.email else "phone": message}, values)
        if result.token:
            confirm_mail.queue_confirmation(g.agency, client, result.request, result.token)
        db.session.commit()
    return _answer(form, client, result.outcome)


@public_bp.route("/f/confirm/<token>", methods=["GET", "POST"])
@csrf.exempt
def confirm(token: str):
    """GET shows a button and changes nothing (mail scanners open links); POST confirms. Token-bound,
    so CSRF-exempt: a forged POST needs the token, which is the secret."""
    request_row = optin.find_request(g.agency.id, token)
    if request_row is None:
        abort(404)
    with bind_tenant(g.agency.id, request_row.client_id):
        client = db.session.scalar(select(Client).where(Client.id == request_row.client_id))
        locale = request_row.locale or "en"
        if request.method == "GET":
            state = "ask"
            if request_row.status == "confirmed":
                state = "already"
            elif request_row.status != "pending" or optin.is_expired(request_row):
                state = "expired"
            with force_locale(locale):
                return render_template("forms/confirm.html", client_name=client.name, state=state, message="")
        result = optin.confirm(client, request_row, client_ip())
        db.session.commit()
        with force_locale(locale):
            return render_template(
                "forms/confirm.html", client_name=client.name, state=result.outcome, message=result.message
            )
