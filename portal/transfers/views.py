from flask import render_template

from . import bp


@bp.route("/imports")
def imports():
    return render_template("transfers/imports.html")
