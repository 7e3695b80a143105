"""Agency reports: every client's sending and reputation over the last 7, 30 or 90 days."""

from __future__ import annotations

from flask import g, render_template, request

from ..reports import pct
from ..services import reputation
from . import bp


@bp.route("/reports")
def reports():
    days = request.args.get("days", 30, type=int)
    if days not in reputation.PERIODS:
        days = 30
    rows = reputation.rates(g.agency.id, None, days)
    return render_template(
        "agency/reports.html",
        rows=rows,
        days=days,
        periods=reputation.PERIODS,
        pct=pct,
        warn_rate=reputation.WARN_RATE,
        pause_rate=reputation.PAUSE_RATE,
        min_volume=reputation.MIN_VOLUME,
        totals={
            "sent": sum(r.sent for r in rows),
            "warnings": sum(1 for r in rows if r.warning),
            "paused": sum(r.paused_campaigns for r in rows),
        },
    )
