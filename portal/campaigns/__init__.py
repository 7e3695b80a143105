"""Client campaign pages: campaigns (compose, preview, test, send, schedule), senders, image library."""

from flask import Blueprint

from ..guards import require_area

bp = Blueprint("campaigns", __name__, url_prefix="/app")
bp.before_request(require_area("client"))

from . import views  # noqa: E402,F401
