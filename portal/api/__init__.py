"""The REST API at /api/v1 on the agency's hosts (issue 10).

Map: `auth` (Bearer key → client, scopes, rate limit), `idempotency` (Idempotency-Key on POST),
`errors` (JSON errors with stable codes), `schemas` (marshmallow: validation and the document),
`document` (OpenAPI 3.1 at /api/v1/openapi.json), resources in `audience`, `suppressions`, `campaigns`,
`jobs`, `events`, `sms`; `keys` is the key service the client area and `portal api-keys` use; `pages` the
client-area pages (keys, reference). flask-smorest builds the document from the same schemas that
validate requests.
"""

from __future__ import annotations

from flask import Flask, request
from flask_smorest import Api, Blueprint
from werkzeug.exceptions import HTTPException

from .. import errors as portal_errors
from ..extensions import csrf, db
from ..services import DomainError, NotFound
from . import errors, idempotency
from .auth import authenticate
from .schemas import Error

MAX_BODY_BYTES = 8 * 1024 * 1024  # a bulk upsert of 10,000 contacts with fields fits comfortably

bp = Blueprint(
    "api",
    __name__,
    url_prefix="/api/v1",
    description="Lists, fields, contacts, subscriptions, suppressions, campaigns, jobs and the events feed.",
)


class PortalApi(Api):
    """flask-smorest would register an app-wide HTTPException handler; the portal keeps its own pages and
    the API renders its errors through errors.PREFIX_HANDLERS and the blueprint's handlers."""

    ERROR_SCHEMA = Error  # the shape errors.render answers with, as the document's "Error"

    def _register_error_handlers(self):
        pass


def _limit_body():
    request.max_content_length = MAX_BODY_BYTES
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise errors.ApiError(
            413,
            "request_too_large",
            f"The request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB.",
        )


def _ids_in_range():
    """Path ids are 32-bit integers in the database: a larger one names nothing (404, not a DB error)."""
    for value in (request.view_args or {}).values():
        if isinstance(value, int) and not 0 < value < 2**31:
            raise errors.ApiError(404, "not_found", "No such object.")


def _domain_error(exc: DomainError):
    db.session.rollback()  # nothing half-written: a refused operation leaves no flushed rows behind
    if isinstance(exc, NotFound):
        return errors.render(errors.ApiError(404, "not_found", "No such object."))
    return errors.render(errors.ApiError(422, "rejected", str(exc)))


bp.before_request(_limit_body)
bp.before_request(_ids_in_range)
bp.before_request(authenticate)
bp.before_request(idempotency.before)
bp.after_request(idempotency.after)
bp.register_error_handler(errors.ApiError, errors.render)
bp.register_error_handler(DomainError, _domain_error)
bp.register_error_handler(HTTPException, errors.render_http)


def init_app(app: Flask) -> Api:
    """Register the blueprint and build the document generator (one per app). The title names no
    provider: the document is served on the agency's host."""
    app.config.setdefault("API_TITLE", "Marketing API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    api = PortalApi(app, spec_kwargs={"security": [{"bearer": []}]})
    api.spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "description": "An API key from the client area"}
    )
    api.register_blueprint(bp)
    csrf.exempt(bp)
    portal_errors.PREFIX_HANDLERS["/api/"] = errors.render_http
    app.extensions["portal_api"] = api
    return api


from . import audience, campaigns, document, events, jobs, sms, suppressions  # noqa: E402,F401
