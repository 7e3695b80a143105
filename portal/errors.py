"""Generic error pages. An unknown host gets a neutral body: no branding, no cookie."""

from __future__ import annotations

import secrets

from flask import Flask, current_app, g, jsonify, render_template, request
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from .extensions import db

NEUTRAL_404 = "<!doctype html><title>Not found</title><h1>Not found</h1>"
NEUTRAL_500 = "<!doctype html><title>Server error</title><h1>Server error</h1>"
# Path prefix → renderer, for parts that answer errors in their own shape (the REST API's JSON errors,
# registered by portal/api): also covers what no view of theirs saw (unknown routes, 405, 413, 500).
PREFIX_HANDLERS: dict = {}


def _prefix_handler():
    return next((h for p, h in PREFIX_HANDLERS.items() if request.path.startswith(p)), None)


def _wants_json() -> bool:
    return request.path.endswith(".json") or request.accept_mimetypes.best == "application/json"


def handle_http_error(exc: HTTPException):
    if g.get("host") is None:
        # Unknown or malformed host: nothing about any tenant, and no session touched.
        return NEUTRAL_404, 404, {"Content-Type": "text/html; charset=utf-8"}
    if (handler := _prefix_handler()) is not None:
        return handler(exc)
    if _wants_json():
        return jsonify(error=exc.name, status=exc.code), exc.code
    return render_template("errors/error.html", code=exc.code, name=exc.name), exc.code


def handle_queue_unavailable(exc: RedisError):
    """Redis (the job queue) cannot be reached: a clear 503, the work not started (checklist I55)."""
    db.session.rollback()
    current_app.logger.warning("queue unavailable on %s %s: %s", request.method, request.path, exc)
    if g.get("host") is None:
        return NEUTRAL_500, 503, {"Content-Type": "text/html; charset=utf-8"}
    if (handler := _prefix_handler()) is not None:
        return handler(ServiceUnavailable())
    if _wants_json():
        return jsonify(error="Service Unavailable", status=503), 503, {"Retry-After": "60"}
    page = render_template("errors/error.html", code=503, name="Service Unavailable")
    return page, 503, {"Retry-After": "60"}


def handle_unexpected(exc: Exception):
    """A real 500: the generic page (no trace, SQL, config or secret) with a reference id that is also in
    the log line carrying the traceback, so support can find one from the other (checklist G40)."""
    db.session.rollback()
    if isinstance(exc, HTTPException):
        return handle_http_error(exc)
    reference = secrets.token_hex(6)
    current_app.logger.exception("unhandled error [ref %s] on %s %s", reference, request.method, request.path)
    if g.get("host") is None:
        return NEUTRAL_500, 500, {"Content-Type": "text/html; charset=utf-8"}
    if (handler := _prefix_handler()) is not None:
        return handler(InternalServerError(f"Something went wrong on our side (reference {reference})."))
    if _wants_json():
        return jsonify(error="Internal Server Error", status=500, reference=reference), 500
    try:
        return render_template(
            "errors/error.html", code=500, name="Internal Server Error", reference=reference
        ), 500
    except Exception:  # the page itself failed (a broken template, the database gone): plain text
        current_app.logger.exception("error page failed [ref %s]", reference)
        return f"Internal Server Error (reference {reference})", 500, {"Content-Type": "text/plain"}


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(RedisError, handle_queue_unavailable)
    if not app.testing:
        app.register_error_handler(Exception, handle_unexpected)
