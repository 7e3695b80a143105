from flask import abort

from . import bp


@bp.route("/u/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    abort(404)
