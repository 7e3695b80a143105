"""The SMS pages: the client's area (/app/sms) and the agency's (/agency/sms)."""

from flask import Blueprint, flash, g, redirect, url_for
from flask_babel import gettext as _

from ..guards import require_area
from ..models.user import ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR

bp = Blueprint("sms", __name__, url_prefix="/app/sms")
bp.before_request(require_area("client"))

agency_bp = Blueprint("smsagency", __name__, url_prefix="/agency/sms")
agency_bp.before_request(require_area("agency"))

WRITERS = (ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR)


@agency_bp.before_request
def _leave_client_first():
    """As on every agency page: while acting inside a client the agency view would be partial."""
    if g.get("acting_as_client"):
        flash(_("You are working inside a client account. Use “Back to the agency” to leave it."), "warning")
        return redirect(url_for("client.dashboard"))
    return None


from . import agency_views, client_views  # noqa: E402,F401
