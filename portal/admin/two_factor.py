"""An agency's two-factor requirements, set by the operator, and the reset of an agency owner's second
factor (the owner lost their phone and recovery codes; the owner resets everyone else's)."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..models import Membership, User
from ..models.user import ROLE_AGENCY_OWNER
from ..services import DomainError
from ..twofactor import service as two_factor
from ..twofactor.forms import TwoFactorPolicyForm
from . import bp
from .common import agency_or_404, flash_error, flash_form_errors


def agency_owners(agency) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(User.agency_id == agency.id, Membership.role == ROLE_AGENCY_OWNER)
            .order_by(User.email)
        )
    )


def policy_form(agency) -> TwoFactorPolicyForm:
    return TwoFactorPolicyForm(
        formdata=None,
        data={
            "staff_required": agency.two_factor_staff_required,
            "clients_required": agency.two_factor_clients_required,
        },
    )


@bp.route("/agencies/<int:agency_id>/two-factor", methods=["POST"])
def agency_two_factor(agency_id: int):
    agency = agency_or_404(agency_id)
    form = TwoFactorPolicyForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
    elif two_factor.set_requirements(
        actor=current_user._get_current_object(),
        agency=agency,
        staff=form.staff_required.data,
        clients=form.clients_required.data,
    ):
        db.session.commit()
        flash(_("Two-factor requirements of %(name)s saved.", name=agency.name), "success")
    return redirect(url_for("admin.agency_detail", agency_id=agency.id, _anchor="two-factor"))


@bp.route("/agencies/<int:agency_id>/owners/<int:user_id>/two-factor/reset", methods=["POST"])
def reset_owner_two_factor(agency_id: int, user_id: int):
    agency = agency_or_404(agency_id)
    owner = next((u for u in agency_owners(agency) if u.id == user_id), None)
    if owner is None:
        abort(404)
    try:
        two_factor.reset(actor=current_user._get_current_object(), user=owner, agency=agency)
    except DomainError as exc:
        flash_error(exc)
    else:
        db.session.commit()  # the email to the owner goes out after this commit
        flash(
            _("The two-factor sign-in of %(email)s is reset; we told them by email.", email=owner.email),
            "success",
        )
    return redirect(url_for("admin.agency_detail", agency_id=agency.id, _anchor="two-factor"))
