"""The client's suppression list: read (paged, by channel) and add (services/suppression.add)."""

from __future__ import annotations

from flask import g
from sqlalchemy import select

from ..extensions import db
from ..models import Suppression
from ..services import suppression as suppression_service
from . import bp
from .auth import requires
from .paging import page
from .schemas import SuppressionIn, SuppressionOut, SuppressionQuery, page_of


def _dict(entry: Suppression) -> dict:
    return {k: getattr(entry, k) for k in SuppressionOut().fields}


@bp.route("/suppressions", methods=["GET"])
@bp.arguments(SuppressionQuery, location="query")
@bp.response(200, page_of(SuppressionOut))
@requires("read")
def suppressions_index(args):
    """Suppressed addresses and numbers in id order (bounces, complaints and unsubscribes included)."""
    query = select(Suppression)
    if args.get("channel"):
        query = query.where(Suppression.channel == args["channel"])
    return page(query, Suppression, args, _dict)


@bp.route("/suppressions", methods=["POST"])
@bp.arguments(SuppressionIn)
@bp.response(201, SuppressionOut)
@requires("write")
def suppressions_create(data):
    """Suppress an address (an existing entry is returned as it is)."""
    entry = suppression_service.add(
        actor=None,
        client=g.client,
        channel=data["channel"],
        raw_address=data["address"],
        reason=data["reason"],
        source="api",
        note=data["note"],
    )
    db.session.commit()
    return _dict(entry)
