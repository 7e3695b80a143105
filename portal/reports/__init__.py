"""Statistics: per-campaign reports in the client area (url prefix /app/reports)."""

from flask import Blueprint
from flask_babel import format_percent

from ..guards import require_area
from ..templating import status_label

bp = Blueprint("reports", __name__, url_prefix="/app/reports")
bp.before_request(require_area("client"))


def pct(value: float) -> str:
    """A rate as a localised percentage with up to two decimals (0.00123 → 0.12%)."""
    return format_percent(value, format="#,##0.##%")


def delivery_label(status: str) -> str:
    """Deliveries share the portal-wide status labels."""
    return status_label(status)


@bp.context_processor
def _helpers():
    return {"pct": pct, "delivery_label": delivery_label}


from . import views  # noqa: E402,F401
