"""Client audience pages: lists, custom fields, contacts, segments (inside the client area)."""

from flask import Blueprint, g
from flask_login import current_user

from ..guards import require_area
from ..models.user import ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR

bp = Blueprint("audience", __name__, url_prefix="/app")
bp.before_request(require_area("client"))

WRITERS = (ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR)


@bp.context_processor
def _inject_role():
    acting = bool(g.get("acting_as_client"))
    role = ROLE_CLIENT_ADMIN if acting else (current_user.role if current_user.is_authenticated else None)
    return {"client_role": role, "can_admin": role == ROLE_CLIENT_ADMIN, "can_write": role in WRITERS}


from . import contact_views, field_views, list_views, segment_views  # noqa: E402,F401
