"""The agency area on the agency's own host: overview, branding, clients, staff, "act as client", activity.

Agency owners can do everything here; agency staff everything except managing staff and branding.
"""

from flask import Blueprint, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..guards import require_area

bp = Blueprint("agency", __name__, url_prefix="/agency")
bp.before_request(require_area("agency"))


@bp.before_request
def _leave_client_first():
    """While acting inside a client the tenant is that client: agency pages would show a partial picture."""
    if g.get("acting_as_client") and request.endpoint != "agency.stop_acting":
        flash(_("You are working inside a client account. Use “Back to the agency” to leave it."), "warning")
        return redirect(url_for("client.dashboard"))
    return None


@bp.context_processor
def _inject_role():
    owner = current_user.is_authenticated and current_user.role == "agency_owner"
    return {"is_owner": owner}


from . import acting, activity, branding, clients, dashboard, reports, security, staff, suppression  # noqa: E402,F401
