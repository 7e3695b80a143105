"""Client campaign pages: campaigns (compose, preview, test, send, schedule), senders, image library."""

from flask import Blueprint

from ..guards import require_area
from ..models.user import ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR

bp = Blueprint("campaigns", __name__, url_prefix="/app")
bp.before_request(require_area("client"))

WRITERS = (ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR)

from . import image_views, sender_views, views  # noqa: E402,F401
