"""Generic error pages. An unknown host gets a neutral body: no branding, no cookie."""

from __future__ import annotations

from flask import Flask, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from .extensions import db

NEUTRAL_404 = "<!doctype html><title>Not found</title><h1>Not found</h1>"


def _wants_json() -> bool:
    return request.path.endswith(".json") or request.accept_mimetypes.best == "application/json"


def handle_http_error(exc: HTTPException):
    if g.get("host") is None:
        # Unknown or malformed host: nothing about any tenant, and no session touched.
        return NEUTRAL_404, 404, {"Content-Type": "text/html; charset=utf-8"}
    if _wants_json():
        return jsonify(error=exc.name, status=exc.code), exc.code
    return render_template("errors/error.html", code=exc.code, name=exc.name), exc.code


def handle_unexpected(exc: Exception):
    db.session.rollback()
    if isinstance(exc, HTTPException):
        return handle_http_error(exc)
    from flask import current_app

    current_app.logger.exception("unhandled error on %s", request.path)
    return handle_http_error(InternalServerError())


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    if not app.testing:
        app.register_error_handler(Exception, handle_unexpected)
