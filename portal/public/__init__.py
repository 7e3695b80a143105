"""Public endpoints on every known host: health check and branding assets (logo, favicon)."""

from flask import Blueprint, Response, abort, g

from ..extensions import db
from ..models import Agency

bp = Blueprint("public", __name__)


@bp.route("/healthz")
def health():
    return {"status": "ok"}


def _asset(data_attr: str, mime_attr: str) -> Response:
    agency = g.get("agency")
    if agency is None:
        abort(404)
    row = db.session.get(Agency, agency.id)
    data, mime = getattr(row, data_attr), getattr(row, mime_attr)
    if not data or not mime:
        abort(404)
    resp = Response(data, mimetype=mime)
    # URLs carry ?v=<branding_version>, so a long cache is safe; Vary: Host keeps tenants apart.
    resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return resp


@bp.route("/brand/logo")
def logo():
    return _asset("logo_data", "logo_mime")


@bp.route("/brand/favicon")
def favicon():
    return _asset("favicon_data", "favicon_mime")
