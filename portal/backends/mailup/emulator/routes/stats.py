"""MailStatisticsService (§12): `/{Message|Recipient}/{id}/Count/{Kind}` answers a bare integer (filters do
not apply to counts), `/{Message|Recipient}/{id}/List/{Kind}` a paged collection. The data and its
retention come from `events.py`."""

from __future__ import annotations

from flask import Blueprint

from .. import events
from ..auth import require_token
from ..web import ApiError, account, bare, paged, state

bp = Blueprint("mailup_statistics", __name__)
bp.before_request(require_token)  # bearer token, rate limit, injected faults


def _items(scope: str, ident: int, kind: str) -> list[dict]:
    finder = events.message_items if scope == "message" else events.recipient_items
    items = finder(state(), account(), ident, kind)
    if items is None:
        raise ApiError(404, f"Unknown statistics kind {kind}")
    return items


@bp.get("/message/<int:message_id>/count/<kind>")
def message_count(message_id: int, kind: str):
    return bare(len(_items("message", message_id, kind)))


@bp.get("/message/<int:message_id>/list/<kind>")
def message_list(message_id: int, kind: str):
    return paged(_items("message", message_id, kind))


@bp.get("/recipient/<int:recipient_id>/count/<kind>")
def recipient_count(recipient_id: int, kind: str):
    return bare(len(_items("recipient", recipient_id, kind)))


@bp.get("/recipient/<int:recipient_id>/list/<kind>")
def recipient_list(recipient_id: int, kind: str):
    return paged(_items("recipient", recipient_id, kind))
