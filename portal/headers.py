"""Security headers on every response class (HTML, JSON, files, errors)."""

from __future__ import annotations

import secrets

from flask import Response, current_app, g


def make_nonce() -> None:
    g.csp_nonce = secrets.token_urlsafe(16)


def hsts_value(host, base_domain: str) -> str:
    """Production runs on HTTPS only (that is what secure cookies say): browsers must never downgrade.

    `includeSubDomains` only on the platform's own base domain, whose every sub-domain we serve over
    HTTPS. An agency's custom domain (`mail.agency.example`) is theirs: imposing it there would break
    the agency's other sub-domains that may still be plain HTTP (checklist D29). An unknown host gets
    nothing: it is not ours to pin."""
    if host is None:
        return ""
    name = host.host
    if name == base_domain or name.endswith(f".{base_domain}"):
        return "max-age=31536000; includeSubDomains"
    return "max-age=31536000"


def apply_security_headers(response: Response) -> Response:
    nonce = g.get("csp_nonce", "")
    csp = (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        f"style-src 'self' 'nonce-{nonce}'; "
        "img-src 'self' data: blob:; "
        "font-src 'self'; connect-src 'self'; form-action 'self'; "
        "frame-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
    )
    response.headers.setdefault("Content-Security-Policy", csp)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    settings = current_app.config["PORTAL_SETTINGS"]
    if settings.secure_cookies:
        hsts = hsts_value(g.get("host"), settings.base_domain)
        if hsts:
            response.headers["Strict-Transport-Security"] = hsts
    if response.mimetype == "text/html":
        # Pages differ per user and per tenant: never let a shared cache keep them.
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers.add("Vary", "Host")
    return response
