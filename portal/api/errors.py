"""JSON errors of the REST API: a stable machine `code`, a human `message`, and `details` naming what
was wrong and where (field → problems). Every error of an /api/ path answers in this shape, including
404s of unknown routes, 405s and 413s raised before a view runs."""

from __future__ import annotations

from flask import jsonify
from werkzeug.exceptions import HTTPException

# HTTP status → the code used when nothing more specific was given.
DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    501: "not_implemented",
}


class ApiError(Exception):
    """Raised by API views and helpers; rendered by `render`."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None, headers=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or {}
        self.headers = headers or {}


def body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def render(exc: ApiError):
    resp = jsonify(body(exc.code, exc.message, exc.details))
    resp.status_code = exc.status
    for name, value in exc.headers.items():
        resp.headers[name] = value
    return resp


def render_http(exc: HTTPException):
    """Werkzeug/webargs errors: 422 carries webargs' per-location, per-field messages."""
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if status == 422 and messages:
        return render(
            ApiError(422, "validation_failed", "The request does not match the schema.", _flatten(messages))
        )
    return render(ApiError(status, DEFAULT_CODES.get(status, f"http_{status}"), str(exc.description)))


def _flatten(messages: dict) -> dict:
    """{"json": {"email": ["Not a valid email."]}} → {"json.email": ["Not a valid email."]}."""
    flat: dict[str, list] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            flat[prefix] = [str(v) for v in value] if isinstance(value, list) else [str(value)]

    walk("", messages)
    return flat
