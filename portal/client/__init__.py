"""The client area: a client's own users, or agency staff acting inside the client."""

from flask import Blueprint

from ..guards import require_area

bp = Blueprint("client", __name__, url_prefix="/app")
bp.before_request(require_area("client"))

from . import views  # noqa: E402,F401
