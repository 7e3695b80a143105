"""The client area: a client's own users, or agency staff acting inside the client."""

from flask import Blueprint, g
from flask_login import current_user

from ..guards import require_area
from ..models.user import ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR

bp = Blueprint("client", __name__, url_prefix="/app")
bp.before_request(require_area("client"))

# Who may do what inside a client (portal.guards.roles_required gives acting agency staff admin rights).
ADMINS = (ROLE_CLIENT_ADMIN,)
WRITERS = (ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR)


def client_role() -> str | None:
    """The effective role in the bound client: agency staff acting as the client count as its admins."""
    if g.get("acting_as_client"):
        return ROLE_CLIENT_ADMIN
    return current_user.role if current_user.is_authenticated else None


@bp.context_processor
def _inject_role():
    role = client_role()
    return {"client_role": role, "can_admin": role in ADMINS, "can_write": role in WRITERS}


from . import activity, settings, users, views  # noqa: E402,F401
