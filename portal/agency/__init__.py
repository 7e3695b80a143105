"""The agency area on the agency's own host: branding, clients, staff, "act as client"."""

from flask import Blueprint

from ..guards import require_area

bp = Blueprint("agency", __name__, url_prefix="/agency")
bp.before_request(require_area("agency"))

from . import views  # noqa: E402,F401
