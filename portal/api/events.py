"""The events feed: subscribes, unsubscribes, bounces, complaints, deliveries, opens and clicks with a
cursor that never skips or repeats (portal/feed.py explains why)."""

from __future__ import annotations

from flask import g

from .. import feed
from . import bp
from .auth import requires
from .errors import ApiError
from .schemas import FeedArgs, FeedPage


@bp.route("/events", methods=["GET"])
@bp.arguments(FeedArgs, location="query")
@bp.response(200, FeedPage)
@requires("read")
def events_index(args):
    """The next events after `after` (from the beginning without it), oldest first. Keep `next_cursor`
    and pass it as `after`: an empty page means nothing new yet."""
    try:
        cursor = feed.Cursor.decode(args.get("after"))
    except feed.BadCursor as exc:
        raise ApiError(400, "bad_cursor", str(exc), {"query.after": ["invalid"]}) from exc
    result = feed.read(g.client.id, cursor, args["limit"])
    return {"data": result.items, "next_cursor": result.cursor.encode()}
