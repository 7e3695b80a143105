from flask import render_template

from . import bp


@bp.route("/campaigns")
def index():
    return render_template("campaigns/index.html")


@bp.route("/senders")
def senders():
    return render_template("campaigns/index.html")
