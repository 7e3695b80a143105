"""Malformed requests at the edge (checklist A2; RFC 9112 §3.2, §3.2.2): refused before any tenant is
looked at, so the portal never guesses one.

- No `Host` (or an empty one): Werkzeug would fall back on the server's own address (`SERVER_NAME`),
  which is a tenant guessed from the deployment, not asked for by the client → 400.
- Two `Host` lines: WSGI servers join them with a comma (Werkzeug's dev server, gunicorn) → 400.
- Absolute-form target (`GET http://ag2.example/ HTTP/1.1` with `Host: ag1.example`): the target's
  authority is the host (RFC 9112 §3.2.2 — the server must ignore `Host`), whatever the WSGI server
  did with it, so the proxy's routing and the tenant resolved here can never disagree.

The answer is a plain, unbranded 400 with no cookie.
"""

from __future__ import annotations

from urllib.parse import urlsplit

BAD_REQUEST = b"<!doctype html><title>Bad request</title><h1>Bad request</h1>"
_HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Length", str(len(BAD_REQUEST))),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    (
        "Content-Security-Policy",
        "default-src 'none'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'",
    ),
]


class RequestTargetGuard:
    """WSGI middleware: the innermost wrapper, so it sees the host after any trusted proxy fix-up."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        host = request_host(environ)
        if host is None:
            start_response("400 Bad Request", list(_HEADERS))
            return [BAD_REQUEST]
        if host != environ.get("HTTP_HOST"):
            environ = {**environ, "HTTP_HOST": host}
        return self.app(environ, start_response)


def request_host(environ: dict) -> str | None:
    """The one host this request names, or None when it names none or several."""
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    if target[:8].lower().startswith(("http://", "https://")):
        host = urlsplit(target).netloc
    else:
        host = environ.get("HTTP_HOST")
    if host is None or not host.strip() or "," in host or any(ch.isspace() for ch in host):
        return None
    return host
