"""Subscription forms — the portal's own connector (DESIGN.md §1).

- `builder.py`: the client's forms (lists, fields, channels, double opt-in, consent text, sites);
- `optin.py`: the one sign-up path (contact upsert + subscribe), consent record, double opt-in, expiry;
- `confirm_mail.py`: the branded confirmation email;
- `views.py`, `integrations_views.py`: the client area (builder, embed code, the Integrations page);
- `public_views.py`: the hosted page, the submission (plain form or the embed script, CORS limited to
  the form's sites, honeypot, rate limits) and the confirmation page, on the agency's domain.
"""

from flask import Blueprint

from ..guards import require_area
from ..models.user import ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR

bp = Blueprint("forms", __name__, url_prefix="/app")
bp.before_request(require_area("client"))
public_bp = Blueprint("formpublic", __name__)

WRITERS = (ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR)

from . import integrations_views, public_views, views  # noqa: E402,F401
