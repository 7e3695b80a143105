"""Cursor pagination by id for the API's lists: `after` is the opaque next_cursor of the previous page."""

from __future__ import annotations

import base64
import binascii

from flask import g
from sqlalchemy import Select

from ..extensions import db
from .errors import ApiError


def encode(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        kind, _, number = raw.partition(":")
        value = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value, kind = -1, ""
    if kind != "id" or not 0 <= value < 2**31:  # ids are 32-bit integers
        raise ApiError(
            400, "bad_cursor", "The cursor is not one this API returned.", {"query.after": ["invalid"]}
        )
    return value


def page(query: Select, model, args: dict, to_dict) -> dict:
    """Rows of `query` after the cursor in id order, `limit` of them, and the cursor of the next page."""
    limit = args["limit"]
    rows = list(
        db.session.scalars(
            query.where(model.id > decode(args.get("after"))).order_by(model.id).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    g.page_rows = len(rows)
    return {"data": [to_dict(r) for r in rows], "next_cursor": encode(rows[-1].id) if more else None}
