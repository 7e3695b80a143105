"""The client area: a client's own users, or agency staff acting inside the client."""

from flask import Blueprint

from ..guards import client_role, require_area
from ..models.user import ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR

bp = Blueprint("client", __name__, url_prefix="/app")
bp.before_request(require_area("client"))

# Who may do what inside a client (portal.guards.roles_required gives acting agency staff admin rights).
ADMINS = (ROLE_CLIENT_ADMIN,)
WRITERS = (ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR)

__all__ = ["ADMINS", "WRITERS", "bp", "client_role"]


from . import activity, settings, users, views  # noqa: E402,F401
