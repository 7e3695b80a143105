"""Platform administrators: list, create (they choose a password through a reset link), deactivate."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..services import DomainError, NotFound, accounts, platform_users
from . import bp
from .common import flash_error
from .forms import PlatformUserForm


@bp.route("/users")
def user_list():
    return render_template("admin/users/list.html", users=platform_users.list_platform_admins())


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    form = PlatformUserForm()
    if form.validate_on_submit():
        try:
            user = platform_users.create_platform_admin(
                actor=current_user, email=form.email.data, name=form.name.data
            )
            # The email goes out after the commit (enqueue-after-commit).
            accounts.request_password_reset(None, user.email)
        except DomainError as exc:
            db.session.rollback()
            form.email.errors.append(str(exc))
        else:
            db.session.commit()
            flash(
                _("%(email)s can now sign in: we sent a link to choose a password.", email=user.email),
                "success",
            )
            return redirect(url_for("admin.user_list"))
    return render_template("admin/users/new.html", form=form)


@bp.route("/users/<int:user_id>/active", methods=["POST"])
def user_active(user_id: int):
    try:
        user = platform_users.get_platform_admin(user_id)
    except NotFound:
        abort(404)
    active = request.form.get("active") == "1"
    try:
        platform_users.set_platform_admin_active(actor=current_user, user=user, active=active)
    except DomainError as exc:
        flash_error(exc)
    else:
        db.session.commit()
        if active:
            flash(_("%(email)s is active again.", email=user.email), "success")
        else:
            flash(_("%(email)s is deactivated and signed out.", email=user.email), "success")
    return redirect(url_for("admin.user_list"))
