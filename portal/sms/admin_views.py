"""The back-office's SMS page: every agency's credit pool, and granting credits to it (audited)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..guards import require_area
from ..models import Agency
from ..services import DomainError
from ..tenancy import enter_all_tenants, leave_all_tenants
from . import credits
from .forms import CreditMoveForm

bp = Blueprint("smsadmin", __name__, url_prefix="/admin/sms")
bp.before_request(require_area("admin"))
bp.before_request(
    enter_all_tenants
)  # the back-office sees every agency: explicit opt-out after the role check
bp.teardown_request(leave_all_tenants)


@bp.route("")
def pools():
    agencies = list(db.session.scalars(select(Agency).order_by(Agency.name)))
    return render_template(
        "sms/admin/pools.html",
        agencies=agencies,
        pools={a.id: credits.balance(a.id) for a in agencies},
        form=CreditMoveForm(),
    )


@bp.route("/agencies/<int:agency_id>", methods=["POST"])
def grant(agency_id: int):
    agency = db.session.scalar(select(Agency).where(Agency.id == agency_id))
    if agency is None:
        abort(404)
    form = CreditMoveForm()
    if not form.validate_on_submit():
        flash(_("Give a number of credits from 1 to 100,000,000."), "error")
        return redirect(url_for("smsadmin.pools"))
    try:
        credits.grant_pool(
            actor=current_user._get_current_object(),
            agency_id=agency.id,
            amount=form.amount.data,
            note=form.note.data or "",
        )
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(
            _("%(n)s SMS credits granted to %(agency)s.", n=f"{form.amount.data:,}", agency=agency.name),
            "success",
        )
    return redirect(url_for("smsadmin.pools", _anchor=f"agency-{agency.id}"))
