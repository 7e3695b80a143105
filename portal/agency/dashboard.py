"""The agency's overview: figures, latest clients, recent activity."""

from __future__ import annotations

from flask import render_template

from ..audit_labels import ACTION_LABELS
from . import bp, queries


@bp.route("/")
def dashboard():
    return render_template(
        "agency/dashboard.html",
        stats=queries.overview(),
        clients=queries.latest_clients(),
        events=queries.recent_activity(10),
        client_names=queries.client_names(),
        labels=ACTION_LABELS,
    )
