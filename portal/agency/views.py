from flask import redirect, render_template, session, url_for

from . import bp


@bp.route("/")
def dashboard():
    return render_template("agency/dashboard.html")


@bp.route("/stop-acting", methods=["POST"])
def stop_acting():
    session.pop("acting_client_id", None)
    return redirect(url_for("agency.dashboard"))
