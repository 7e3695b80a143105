"""The second sign-in step, and each user's own second factor: set up, turn off, renew recovery codes.

Every form that checks a code shares one per-account limit with the code step (codes are throttled like
passwords), on top of the per-address limit of the sign-in form.
"""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from markupsafe import Markup

from ..crypto import SecretError, decrypt_json, encrypt_json
from ..extensions import db, limiter
from ..guards import SECOND_FACTOR_PENDING
from ..netutil import client_ip, safe_next
from ..passwords import verify_password
from ..services import DomainError, accounts
from ..templating import current_brand
from ..twofactor import policy, totp
from ..twofactor import service as two_factor
from . import bp
from .forms import SecondFactorForm, TwoFactorConfirmForm, TwoFactorSetupForm
from .sessions import (
    forget_pending,
    home_for,
    pending_state,
    pending_user,
    recently_authenticated,
    start_session,
)

ENROLMENT_SECRET = "two_factor_enrolment"  # session key: the secret being set up, Fernet-encrypted


def _code_account_key() -> str:
    if current_user.is_authenticated:
        who = current_user.id
    else:
        state = pending_state()
        who = state["uid"] if state else client_ip()
    return f"2fa:{g.host.session_key}:{who}"


code_limit = limiter.shared_limit(
    "5/minute", scope="second-factor", key_func=_code_account_key, methods=["POST"]
)


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["PORTAL_SETTINGS"].login_rate_limit, methods=["POST"])
@code_limit
def second_factor():
    state, user = pending_state(), pending_user()
    if state is None or user is None:
        if session.get(SECOND_FACTOR_PENDING):
            flash(_("The sign-in took too long. Please sign in again."), "warning")
        forget_pending()
        return redirect(url_for("auth.login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        outcome = two_factor.check_code(user, form.code.data)
        if outcome.method is not None:
            target = state["next"]
            accounts.signed_in(user, second_factor=outcome.method)
            start_session(user)
            db.session.commit()
            if outcome.method == "recovery":
                flash(_recovery_left_message(outcome.recovery_left), "warning")
            return redirect(safe_next(target, home_for(user)))
        db.session.commit()  # keep the audit row of the failure
        form.code.errors = [*form.code.errors, _("That code is not right. Type the code your app shows now.")]
        if not two_factor.totp_readable(user):
            form.code.errors.append(
                _(
                    "Your authenticator key cannot be read on this server. Sign in with one of your "
                    "recovery codes, or ask your administrator to reset your two-factor sign-in."
                )
            )
    return render_template("auth/second_factor.html", form=form)  # 200 with the error, like the login page


def _recovery_left_message(left: int) -> str:
    if left == 0:
        return _("You used your last recovery code. Create new ones in your account now.")
    return ngettext(
        "You signed in with a recovery code: %(num)d is left.",
        "You signed in with a recovery code: %(num)d are left.",
        left,
    )


@bp.route("/login/code/cancel", methods=["POST"])
def second_factor_cancel():
    forget_pending()
    return redirect(url_for("auth.login"))


def _enrolment_secret(user) -> str:
    """The secret shown on the setup page, kept (encrypted) in the session until it is confirmed, so a
    reload shows the same QR code and nothing is stored before the user proves they have it."""
    sealed = session.get(ENROLMENT_SECRET)
    if sealed:
        try:
            data = decrypt_json(sealed)
        except SecretError:
            data = {}
        if data.get("uid") == user.id:
            return data["secret"]
    secret = totp.new_secret()
    session[ENROLMENT_SECRET] = encrypt_json({"uid": user.id, "secret": secret})
    return secret


@bp.route("/account/two-factor/setup", methods=["GET", "POST"])
@login_required
@code_limit
def two_factor_setup():
    user = current_user._get_current_object()
    if user.has_second_factor:
        flash(_("Two-factor sign-in is already on."), "info")
        return redirect(url_for("auth.account"))
    secret = _enrolment_secret(user)
    ask_password = not recently_authenticated()
    form = TwoFactorSetupForm()
    if form.validate_on_submit():
        if ask_password and not verify_password(user.password_hash, form.password.data or ""):
            form.password.errors = [*form.password.errors, _("The current password is wrong.")]
        else:
            try:
                codes = two_factor.enrol(user, secret=secret, code=form.code.data)
            except DomainError as exc:
                db.session.rollback()
                form.code.errors = [*form.code.errors, str(exc)]
            else:
                db.session.commit()
                start_session(user)  # the token rotated: this session is re-issued, any other one ends
                return render_template("auth/recovery_codes.html", codes=codes, enrolled=True)
    uri = totp.provisioning_uri(secret, account=user.email, issuer=current_brand().name)
    return render_template(
        "auth/two_factor_setup.html",
        form=form,
        qr=Markup(totp.qr_svg(uri, title=_("QR code for your authenticator app"))),
        secret=totp.grouped(secret),
        ask_password=ask_password,
        required=policy.required_for(user, g.agency),
    )


def _confirmed(form: TwoFactorConfirmForm, user) -> bool:
    """Password first (a wrong one spends no recovery code), then a code of the second factor."""
    if not form.validate_on_submit():
        flash(_("Type your password and a code."), "error")
        return False
    if not verify_password(user.password_hash, form.password.data):
        flash(_("The current password is wrong."), "error")
        return False
    if not two_factor.verify_any(user, form.code.data):
        db.session.commit()  # keep the audit row of the failure
        flash(_("That code is not right. Type the code your app shows now."), "error")
        return False
    return True


@bp.route("/account/two-factor/disable", methods=["POST"])
@login_required
@code_limit
def two_factor_disable():
    user = current_user._get_current_object()
    if _confirmed(TwoFactorConfirmForm(prefix="off"), user):
        try:
            two_factor.disable(user, g.agency)
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            start_session(user)
            flash(_("Two-factor sign-in is off. Other sessions were signed out."), "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/two-factor/recovery-codes", methods=["POST"])
@login_required
@code_limit
def two_factor_recovery_codes():
    user = current_user._get_current_object()
    if not user.has_second_factor or not _confirmed(TwoFactorConfirmForm(prefix="renew"), user):
        return redirect(url_for("auth.account"))
    codes = two_factor.renew_recovery_codes(user)
    db.session.commit()
    return render_template("auth/recovery_codes.html", codes=codes, enrolled=False)


def account_panel(user) -> dict:
    """What the account page shows about the user's second factor."""
    on = user.has_second_factor
    return {
        "on": on,
        "since": user.totp.created_at if on else None,
        "recovery_left": two_factor.recovery_codes_left(user) if on else 0,
        "required": policy.required_for(user, g.agency),
        "off_form": TwoFactorConfirmForm(prefix="off"),
        "renew_form": TwoFactorConfirmForm(prefix="renew"),
    }
