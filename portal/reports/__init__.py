"""Statistics: per-campaign reports in the client area (url prefix /app/reports)."""

from flask import Blueprint

from ..guards import require_area

bp = Blueprint("reports", __name__, url_prefix="/app/reports")
bp.before_request(require_area("client"))

from . import views  # noqa: E402,F401
