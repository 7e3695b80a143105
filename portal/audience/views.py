from flask import render_template

from . import bp


@bp.route("/lists")
def lists():
    return render_template("audience/lists.html")


@bp.route("/contacts")
def contacts():
    return render_template("audience/contacts.html")
