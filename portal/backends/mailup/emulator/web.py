"""Request and response helpers: case-insensitive parameters, JSON bodies, MailUp's answer shapes."""

from __future__ import annotations

import json

from flask import Response, current_app, g, request

from . import query
from .state import EmulatorState
from .util import get_ci

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    415: "UnsupportedMediaType",
    429: None,
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
}


class ApiError(Exception):
    """Answered as MailUp's JSON error body with this HTTP status."""

    def __init__(self, status: int, description: str, name: str | None | bool = False):
        super().__init__(description)
        self.status = status
        self.description = description
        self.name = REASONS.get(status) if name is False else name


def state() -> EmulatorState:
    return current_app.extensions["mailup_emulator"]


def account():
    """The account whose bearer token authorised this request."""
    return g.account


def arg(name: str, default=None, *, form: bool = False):
    """A query parameter whatever its case (`pageSize`/`PageSize`, `filterby`/`FilterBy`); with
    `form=True` the form body counts too (the frontend pages take either)."""
    value = get_ci(request.args, name)
    if value is None and form:
        value = get_ci(request.form, name)
    return default if value is None else value


def int_arg(name: str, default: int, *aliases: str) -> int:
    raw = arg(name)
    for alias in aliases:
        if raw is None:
            raw = arg(alias)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        return int(str(raw).strip().strip('"'))
    except ValueError:
        raise ApiError(400, f"Invalid value for {name}: {raw}") from None


def body(default=None):
    """The JSON body, whatever the Content-Type says (clients differ); an empty body is `default`."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return default
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON") from None


def body_object() -> dict:
    data = body({})
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object")
    return data


def json_response(data, status: int = 200) -> Response:
    text = json.dumps(data, ensure_ascii=False)
    callback = arg("callback") if request.method == "GET" else None
    if callback and callback.replace("_", "").replace(".", "").isalnum():  # JSONP on GET (WCF help pages)
        return Response(f"{callback}({text});", status=status, mimetype="application/javascript")
    return Response(text, status=status, mimetype="application/json")


def bare(value) -> Response:
    """A bare JSON scalar: a recipient id, an import id, a Count."""
    return json_response(value)


def empty() -> Response:
    """HTTP 200 with an empty body (DELETE, unsubscribe, subscribe)."""
    return Response(b"", status=200, content_type="application/json")


def error_body(status: int, description: str, name: str | None | bool = False) -> dict:
    return {
        "ErrorCode": str(status),
        "ErrorDescription": description,
        "ErrorName": REASONS.get(status) if name is False else name,
        "ErrorStack": None,
    }


def error_response(exc: ApiError) -> Response:
    return Response(
        json.dumps(error_body(exc.status, exc.description, exc.name)),
        status=exc.status,
        mimetype="application/json",
    )


def paged(records: list, fmt=None) -> Response:
    """A paged collection: 0-based `pageNumber` (alias `pageNum`), `pageSize` (default 20), then
    `filterby` and `orderby` on the formatted items. Without them only the page's records are formatted."""
    fmt = fmt or (lambda x: x)
    size = min(int_arg("pageSize", query.DEFAULT_PAGE_SIZE), query.MAX_PAGE_SIZE)
    number = int_arg("pageNumber", 0, "pageNum")
    filterby, orderby = arg("filterby"), arg("orderby")
    if not (filterby or "").strip() and not (orderby or "").strip():
        wrapper = query.page(records, number, size)
        wrapper["Items"] = [fmt(r) for r in wrapper["Items"]]
        return json_response(wrapper)
    return json_response(query.page(query.apply([fmt(r) for r in records], filterby, orderby), number, size))
