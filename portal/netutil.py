"""Small request helpers shared by rate limiting, auditing and redirects."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request


def client_ip() -> str:
    """The client address as seen after ProxyFix (which only trusts configured proxies)."""
    return request.remote_addr or "unknown"


def safe_next(target: str | None, default: str) -> str:
    """Return `target` only if it is a plain local path on this host; otherwise `default`.

    Rejects scheme-relative (`//x`), backslash tricks (`/\\x`), control characters, schemes and
    any netloc: the browser must stay on the current host.
    """
    if not target or not isinstance(target, str):
        return default
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in target) or "\\" in target:
        return default
    if not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    lowered = target.lower()
    if "%5c" in lowered or lowered.startswith("/%2f") or lowered.startswith("/%09"):
        return default
    return target
