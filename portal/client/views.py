"""The client dashboard: who is here, what the agency granted, and the next steps."""

from flask import g, render_template

from ..services.client_usage import client_overview
from . import bp


@bp.route("/")
def dashboard():
    return render_template("client/dashboard.html", overview=client_overview(g.client))
