from flask import render_template

from . import bp


@bp.route("/suppression")
def index():
    return render_template("suppressions/index.html")
