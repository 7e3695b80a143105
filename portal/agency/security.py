"""Two-factor sign-in in the agency (owners only): the agency's requirements, and resetting the second
factor of a staff member or of a client's user who lost theirs."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..guards import roles_required
from ..models.user import ROLE_AGENCY_OWNER
from ..services import DomainError, NotFound
from ..services import users as user_service
from ..twofactor import service as two_factor
from ..twofactor.forms import TwoFactorPolicyForm
from . import bp
from .clients import client_or_404
from .staff import _staff_or_404


@bp.route("/security", methods=["GET", "POST"])
@roles_required(ROLE_AGENCY_OWNER)
def security():
    agency = g.agency
    form = TwoFactorPolicyForm(
        data={
            "staff_required": agency.two_factor_staff_required,
            "clients_required": agency.two_factor_clients_required,
        }
    )
    if form.validate_on_submit():
        changed = two_factor.set_requirements(
            actor=current_user._get_current_object(),
            agency=agency,
            staff=form.staff_required.data,
            clients=form.clients_required.data,
        )
        db.session.commit()
        if changed:
            flash(
                _("Saved. People who must now use two-factor sign-in set it up at their next page."),
                "success",
            )
        return redirect(url_for("agency.security"))
    return render_template("agency/security.html", form=form)


def _reset(user, back: str):
    try:
        two_factor.reset(actor=current_user._get_current_object(), user=user, agency=g.agency)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()  # the email to the user goes out after this commit
        flash(
            _("The two-factor sign-in of %(email)s is reset; we told them by email.", email=user.email),
            "success",
        )
    return redirect(back)


@bp.route("/staff/<int:staff_id>/two-factor/reset", methods=["POST"])
def reset_staff_two_factor(staff_id: int):
    return _reset(_staff_or_404(staff_id), url_for("agency.staff"))


@bp.route("/clients/<int:client_id>/users/<int:user_id>/two-factor/reset", methods=["POST"])
def reset_client_user_two_factor(client_id: int, user_id: int):
    client = client_or_404(client_id)
    try:
        user = user_service.get_user(user_id, client=client)
    except NotFound:
        abort(404)
    if current_user.role != ROLE_AGENCY_OWNER:
        abort(403)
    return _reset(user, url_for("agency.client_detail", client_id=client.id))
