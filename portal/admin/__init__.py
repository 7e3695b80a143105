"""Platform back-office on admin.<base domain>. Platform admins only; queries opt out of the tenant
filter explicitly with `all_tenants()` (DESIGN.md §3)."""

from flask import Blueprint

from ..guards import require_area
from ..tenancy import enter_all_tenants, leave_all_tenants

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_area("admin"))
# The back-office sees every tenant: the opt-out is explicit here, after the role check.
bp.before_request(enter_all_tenants)
bp.teardown_request(leave_all_tenants)

from . import agencies, audit, connections, jobs, outbox, overview, suppression, two_factor, users  # noqa: E402,F401
