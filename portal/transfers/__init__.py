"""Client imports (upload, mapping, progress, result) and CSV exports (inside the client area)."""

from flask import Blueprint

from ..guards import require_area

bp = Blueprint("transfers", __name__, url_prefix="/app")
bp.before_request(require_area("client"))

from . import views  # noqa: E402,F401
