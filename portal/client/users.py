"""The client's users: everyone in the client sees the list; only client admins change it."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..guards import roles_required
from ..services import DomainError, NotFound, accounts
from ..services import users as user_service
from . import ADMINS, bp
from .forms import ROLE_HELP, ROLE_LABELS, InviteForm, RoleForm


def _user_or_404(user_id: int):
    try:
        return user_service.get_user(user_id, client=g.client)
    except NotFound:
        abort(404)


def user_status(user) -> str:
    if not user.active:
        return "inactive"
    return "invited" if user.password_hash is None else "active"


def _actor():
    return current_user._get_current_object()


@bp.route("/users")
def users():
    return render_template(
        "client/users.html",
        users=user_service.list_client_users(g.client),
        role_labels=ROLE_LABELS,
        user_status=user_status,
    )


@bp.route("/users/invite", methods=["GET", "POST"])
@roles_required(*ADMINS)
def invite_user():
    form = InviteForm()
    if form.validate_on_submit():
        try:
            user = user_service.create_user(
                actor=_actor(),
                agency=g.agency,
                client=g.client,
                email=form.email.data,
                name=form.name.data or "",
                role=form.role.data,
            )
            accounts.invite(g.agency, user, actor=_actor())
        except DomainError as exc:
            db.session.rollback()
            form.email.errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Invitation sent to %(email)s.", email=user.email), "success")
            return redirect(url_for("client.users"))
    return render_template("client/invite.html", form=form, role_help=ROLE_HELP, role_labels=ROLE_LABELS)


@bp.route("/users/<int:user_id>")
@roles_required(*ADMINS)
def user_detail(user_id: int):
    user = _user_or_404(user_id)
    form = RoleForm(role=user.role)
    return render_template(
        "client/user_detail.html",
        user=user,
        form=form,
        status=user_status(user),
        role_labels=ROLE_LABELS,
        role_help=ROLE_HELP,
    )


def _apply(user_id: int, action, success: str):
    """Load the user of this client, run one service call, commit, flash; DomainError → flash."""
    user = _user_or_404(user_id)
    try:
        action(user)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(success % {"email": user.email}, "success")
    return redirect(url_for("client.user_detail", user_id=user_id))


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@roles_required(*ADMINS)
def change_role(user_id: int):
    user = _user_or_404(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        flash(_("Choose one of the roles in the list."), "error")
        return redirect(url_for("client.user_detail", user_id=user.id))
    return _apply(
        user_id,
        lambda u: user_service.change_role(actor=_actor(), user=u, role=form.role.data),
        _("The role of %(email)s is changed."),
    )


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@roles_required(*ADMINS)
def deactivate_user(user_id: int):
    return _apply(
        user_id,
        lambda u: user_service.set_active(actor=_actor(), user=u, active=False),
        _("%(email)s can no longer sign in."),
    )


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@roles_required(*ADMINS)
def reactivate_user(user_id: int):
    return _apply(
        user_id,
        lambda u: user_service.set_active(actor=_actor(), user=u, active=True),
        _("%(email)s can sign in again."),
    )


@bp.route("/users/<int:user_id>/resend", methods=["POST"])
@roles_required(*ADMINS)
def resend_invite(user_id: int):
    def resend(user):
        if user.password_hash is not None:
            raise DomainError(_("This user has already accepted the invitation."))
        if not user.active:
            raise DomainError(_("Reactivate this user before sending a new invitation."))
        accounts.invite(g.agency, user, actor=_actor())

    return _apply(user_id, resend, _("A new invitation was sent to %(email)s."))
