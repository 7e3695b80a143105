"""Client audience pages: lists, custom fields, contacts, segments (inside the client area)."""

from flask import Blueprint

from ..guards import require_area

bp = Blueprint("audience", __name__, url_prefix="/app")
bp.before_request(require_area("client"))

from . import views  # noqa: E402,F401
