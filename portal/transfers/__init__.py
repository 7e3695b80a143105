"""Client imports (upload, mapping, progress, result) and CSV exports (inside the client area)."""

from flask import Blueprint

from ..guards import require_area

bp = Blueprint("transfers", __name__, url_prefix="/app")
bp.before_request(require_area("client"))


@bp.context_processor
def _inject_role():
    # The same role flags the client blueprint gives its templates (the shared layout uses them too).
    from ..client import ADMINS, WRITERS, client_role

    role = client_role()
    return {"client_role": role, "can_admin": role in ADMINS, "can_write": role in WRITERS}


from . import views  # noqa: E402,F401
