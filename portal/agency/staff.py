"""The agency's own people (owners only): invite, change role, deactivate, resend invitations."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..guards import roles_required
from ..models.user import ROLE_AGENCY_OWNER
from ..services import DomainError, NotFound, accounts
from ..services import users as user_service
from . import bp
from .clients import user_status
from .forms import AGENCY_ROLE_LABELS, InviteStaffForm, StaffRoleForm


def _actor():
    return current_user._get_current_object()


def _staff_or_404(staff_id: int):
    """A member of this agency's staff; client users and other agencies' people are a 404 here. Only then
    the role check (403), so another tenant's ids look exactly like missing ones."""
    try:
        user = user_service.get_user(staff_id)
    except NotFound:
        abort(404)
    if user.membership is None or user.membership.client_id is not None:
        abort(404)
    if current_user.role != ROLE_AGENCY_OWNER:
        abort(403)
    return user


def _render(invite_form=None, status=200):
    staff = user_service.list_agency_staff()
    role_forms = {
        u.id: StaffRoleForm(formdata=None, prefix=f"role-{u.id}", data={"role": u.role}) for u in staff
    }
    return (
        render_template(
            "agency/staff.html",
            staff=staff,
            invite_form=invite_form or InviteStaffForm(),
            role_forms=role_forms,
            role_labels=AGENCY_ROLE_LABELS,
            user_status=user_status,
        ),
        status,
    )


@bp.route("/staff")
@roles_required(ROLE_AGENCY_OWNER)
def staff():
    return _render()


@bp.route("/staff/invite", methods=["POST"])
@roles_required(ROLE_AGENCY_OWNER)
def invite_staff():
    form = InviteStaffForm()
    if form.validate_on_submit():
        try:
            user = user_service.create_user(
                actor=_actor(),
                agency=g.agency,
                email=form.email.data,
                name=form.name.data or "",
                role=form.role.data,
            )
            accounts.invite(g.agency, user, actor=_actor())
        except DomainError as exc:
            db.session.rollback()
            form.email.errors = [*form.email.errors, str(exc)]
        else:
            db.session.commit()
            flash(_("Invitation sent to %(email)s.", email=user.email), "success")
            return redirect(url_for("agency.staff"))
    return _render(invite_form=form, status=400)


@bp.route("/staff/<int:staff_id>/role", methods=["POST"])
def change_staff_role(staff_id: int):
    user = _staff_or_404(staff_id)
    form = StaffRoleForm(prefix=f"role-{user.id}")
    if not form.validate_on_submit():
        abort(400)
    try:
        user_service.change_role(actor=_actor(), user=user, role=form.role.data)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(
            _("%(email)s is now %(role)s.", email=user.email, role=AGENCY_ROLE_LABELS[form.role.data]),
            "success",
        )
    if current_user.role != ROLE_AGENCY_OWNER:
        return redirect(url_for("agency.dashboard"))  # an owner who stepped down has no staff page any more
    return redirect(url_for("agency.staff"))


@bp.route("/staff/<int:staff_id>/deactivate", methods=["POST"])
def deactivate_staff(staff_id: int):
    return _set_active(staff_id, active=False)


@bp.route("/staff/<int:staff_id>/reactivate", methods=["POST"])
def reactivate_staff(staff_id: int):
    return _set_active(staff_id, active=True)


def _set_active(staff_id: int, *, active: bool):
    user = _staff_or_404(staff_id)
    try:
        user_service.set_active(actor=_actor(), user=user, active=active)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        if active:
            flash(_("%(email)s can sign in again.", email=user.email), "success")
        else:
            flash(_("%(email)s is deactivated and signed out.", email=user.email), "success")
    return redirect(url_for("agency.staff"))


@bp.route("/staff/<int:staff_id>/resend", methods=["POST"])
def resend_staff_invite(staff_id: int):
    user = _staff_or_404(staff_id)
    if user.password_hash is not None:
        flash(_("%(email)s has already accepted the invitation.", email=user.email), "warning")
    else:
        accounts.invite(g.agency, user, actor=_actor())
        db.session.commit()
        flash(_("Invitation sent again to %(email)s.", email=user.email), "success")
    return redirect(url_for("agency.staff"))
