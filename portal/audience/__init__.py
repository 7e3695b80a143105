"""Client audience pages: lists, custom fields, contacts, segments (inside the client area)."""

from flask import Blueprint

from ..guards import require_area
from ..models.user import ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR

bp = Blueprint("audience", __name__, url_prefix="/app")
bp.before_request(require_area("client"))

WRITERS = (ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR)

from . import contact_views, field_views, list_views, segment_views  # noqa: E402,F401
