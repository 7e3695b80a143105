"""`/frontend/<page>.aspx` on the agency's domain: the path in any case (`/Frontend/XmlSubscribe.aspx`),
GET or POST, a bare number as the body. No session, no CSRF (server-to-server calls), a per-IP rate
limit generous enough for a shop's normal traffic."""

from __future__ import annotations

from flask import Response, g, request
from werkzeug.routing import BaseConverter

from ..extensions import csrf, limiter
from ..netutil import client_ip
from ..tenancy import bind_tenant
from . import bp, pages
from .params import read_params

PER_IP = "300 per minute"


class FrontendPrefix(BaseConverter):
    """The `frontend` path segment in any case."""

    regex = r"(?i:frontend)"


class FrontendPage(BaseConverter):
    """One of the compatible page names in any case; the view receives it lower-cased."""

    regex = r"(?i:" + "|".join(name.replace(".", r"\.") for name in pages.PAGES) + ")"

    def to_python(self, value: str) -> str:
        return value.lower()


@bp.record_once
def _register_converters(state) -> None:
    # Before the blueprint's rules are added: they use these converters.
    state.app.url_map.converters.setdefault("frontend_prefix", FrontendPrefix)
    state.app.url_map.converters.setdefault("frontend_page", FrontendPage)


def _number(code: int) -> Response:
    response = Response(str(code), mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<frontend_prefix:prefix>/<frontend_page:page>", methods=["GET", "POST"])
@csrf.exempt
@limiter.limit(PER_IP, key_func=lambda: f"compat:{client_ip()}")
def frontend(prefix: str, page: str):
    call = pages.Call(
        agency=g.agency,
        params=read_params(),
        caller_ip=client_ip(),
        user_agent=request.headers.get("User-Agent", "")[:255],
    )
    # The host's agency only, whoever may be signed in on this browser.
    with bind_tenant(g.agency.id):
        return _number(pages.answer(page, call))
