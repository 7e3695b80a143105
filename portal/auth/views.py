"""Login, logout, password reset, invitations, language — on the admin host and on every agency host."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user

from ..extensions import db, limiter
from ..models.token import PURPOSE_INVITE, PURPOSE_RESET
from ..models.user import new_session_token
from ..netutil import safe_next
from ..passwords import WeakPassword, verify_password
from ..services import DomainError, accounts
from ..services.audit import record
from ..twofactor.policy import must_enrol
from . import bp, two_factor
from .forms import (
    AcceptInviteForm,
    AccountForm,
    ChangePasswordForm,
    ForgotForm,
    LanguageForm,
    LoginForm,
    NewPasswordForm,
)
from .sessions import await_second_factor, home_for, start_session


def _settings():
    return current_app.config["PORTAL_SETTINGS"]


def _account_key() -> str:
    email = (request.form.get("email") or "").strip().lower()
    return f"acct:{g.host.session_key}:{email}"


@bp.route("/")
def home():
    return redirect(home_for(current_user))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: _settings().login_rate_limit, methods=["POST"])
@limiter.limit("5/minute", methods=["POST"], key_func=_account_key)
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = accounts.authenticate(g.agency, form.email.data, form.password.data)
        if user is not None:
            target = safe_next(form.next.data, home_for(user))
            if user.has_second_factor:
                await_second_factor(user, target)  # not signed in until the code step passes
                db.session.commit()
                return redirect(url_for("auth.second_factor"))
            accounts.signed_in(user, second_factor="none")
            start_session(user)
            db.session.commit()
            if must_enrol(user, g.agency):
                return redirect(url_for("auth.two_factor_setup"))
            return redirect(target)
        db.session.commit()  # keep the audit row of the failure
        flash(_("Wrong email or password."), "error")
    return render_template("auth/login.html", form=form, language_form=LanguageForm(lang=_current_lang()))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    user = current_user._get_current_object()
    user.session_token = new_session_token()  # the old cookie (and remember cookie) no longer loads anyone
    record("logout", actor=user, agency_id=user.agency_id)
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: _settings().reset_rate_limit, methods=["POST"], key_func=_account_key)
@limiter.limit("20/hour", methods=["POST"])
def forgot():
    form = ForgotForm()
    if form.validate_on_submit():
        accounts.request_password_reset(g.agency, form.email.data)
        db.session.commit()
        flash(
            _("If an account exists for that address, we have sent it a link to choose a new password."),
            "info",
        )
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit("20/hour", methods=["POST"])
def reset(token: str):
    if accounts.check_token(g.agency, token, PURPOSE_RESET) is None:
        return render_template("auth/token_invalid.html"), 404
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.complete_reset(g.agency, token, form.password.data)
        except (DomainError, WeakPassword) as exc:
            db.session.rollback()
            form.password.errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Your password is changed. Sign in with the new one."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form)


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limiter.limit("20/hour", methods=["POST"])
def accept_invite(token: str):
    pending = accounts.check_token(g.agency, token, PURPOSE_INVITE) if g.agency else None
    if pending is None:
        return render_template("auth/token_invalid.html"), 404
    form = AcceptInviteForm(name=pending.user.name)
    if form.validate_on_submit():
        try:
            user = accounts.accept_invite(g.agency, token, form.name.data, form.password.data)
        except (DomainError, WeakPassword) as exc:
            db.session.rollback()
            form.password.errors.append(str(exc))
        else:
            start_session(user)
            db.session.commit()
            return redirect(home_for(user))
    return render_template("auth/accept_invite.html", form=form, invited=pending.user)


def _current_lang() -> str:
    from ..i18n import select_locale

    return select_locale()


@bp.route("/language", methods=["POST"])
def set_language():
    form = LanguageForm()
    if form.validate_on_submit():
        session["lang"] = form.lang.data
        if current_user.is_authenticated:
            current_user.locale = form.lang.data
            db.session.commit()
    return redirect(safe_next(request.form.get("next"), url_for("auth.home")))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    user = current_user._get_current_object()
    form = AccountForm(obj=user, prefix="profile")
    pw_form = ChangePasswordForm(prefix="pw")
    if "profile-name" in request.form and form.validate_on_submit():
        user.name = form.name.data
        user.locale = form.locale.data or None
        db.session.commit()
        flash(_("Your settings are saved."), "success")
        return redirect(url_for("auth.account"))
    if "pw-password" in request.form and pw_form.validate_on_submit():
        if not verify_password(user.password_hash, pw_form.current.data):
            pw_form.current.errors.append(_("The current password is wrong."))
        else:
            try:
                accounts.set_password(user, pw_form.password.data, actor=user, reason="self-service")
            except WeakPassword as exc:
                db.session.rollback()
                pw_form.password.errors.append(str(exc))
            else:
                db.session.commit()
                start_session(user)  # the token rotated: re-issue this session, others are gone
                flash(_("Your password is changed; other sessions were signed out."), "success")
                return redirect(url_for("auth.account"))
    return render_template(
        "auth/account.html", form=form, pw_form=pw_form, two_factor=two_factor.account_panel(user)
    )
