"""Who is calling: the API key in `Authorization: Bearer`, checked before every API view.

- a key is never accepted in the query string (it would end up in logs and browser history) → 400;
- session cookies are ignored on /api/ (portal/context.py skips the user load) and no CSRF token is
  needed: a request carries its authority in its header, which a browser never adds by itself;
- a key works only on its own agency's hosts and only for its own client: a key of another agency is
  "unknown" (401) here, and every object of another client is 404 through the tenant filter;
- per-key rate limit (moving window in Redis) → 429 with Retry-After.
"""

from __future__ import annotations

import math
import time
from functools import wraps

from flask import current_app, g, request
from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import select

from ..extensions import db
from ..models import Client
from ..netutil import client_ip
from ..tenancy import Tenant, reset_tenant, set_tenant
from .errors import ApiError
from .keys import find_usable, note_use

KEY_PARAMETERS = ("api_key", "apikey", "key", "access_token", "token", "auth")
OPEN_ENDPOINTS = {"api.openapi_document"}  # the document describes the API; it holds no tenant data


def _limiter() -> MovingWindowRateLimiter:
    ext = current_app.extensions
    if "portal_api_limiter" not in ext:
        storage = storage_from_string(current_app.config["PORTAL_SETTINGS"].redis_url)
        ext["portal_api_limiter"] = MovingWindowRateLimiter(storage)
    return ext["portal_api_limiter"]


def _prefix() -> str:
    return current_app.config["PORTAL_SETTINGS"].extra.get("ratelimit_prefix", "portal-rl") + "-api"


def authenticate() -> None:
    """Blueprint before_request: bind the key's client or raise an ApiError."""
    if request.endpoint in OPEN_ENDPOINTS:
        return
    named = [p for p in KEY_PARAMETERS if p in request.args]
    if named:
        raise ApiError(
            400,
            "key_in_query",
            "API keys are never accepted in the URL; send `Authorization: Bearer <key>`.",
            {"query": named},
        )
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="api"'}
    if scheme.lower() != "bearer" or not raw.strip():
        raise ApiError(
            401, "unauthorized", "Send your API key as `Authorization: Bearer <key>`.", headers=challenge
        )
    key = find_usable(raw.strip(), g.agency.id)
    if key is None:
        raise ApiError(401, "invalid_key", "This API key is unknown, revoked or expired.", headers=challenge)
    client = db.session.scalar(select(Client).where(Client.id == key.client_id))
    if client is None:
        raise ApiError(401, "invalid_key", "This API key is unknown, revoked or expired.", headers=challenge)
    if not client.is_active:
        raise ApiError(403, "account_suspended", "This account is suspended.")
    _check_rate(key)
    g.api_key, g.client = key, client
    reset_tenant(g.tenant_token)
    g.tenant_token = set_tenant(Tenant(agency_id=client.agency_id, client_id=client.id))
    note_use(key, client_ip())
    if db.session.dirty or db.session.new:
        db.session.commit()


def _check_rate(key) -> None:
    item = RateLimitItemPerMinute(key.rate_limit_per_minute)
    limiter = _limiter()
    ident = (_prefix(), str(key.id))
    if limiter.hit(item, *ident):
        return
    reset_at, _ = limiter.get_window_stats(item, *ident)
    retry = max(1, math.ceil(reset_at - time.time()))
    raise ApiError(
        429,
        "rate_limited",
        f"This key may make {key.rate_limit_per_minute} requests a minute; try again in {retry} s.",
        {"limit_per_minute": [str(key.rate_limit_per_minute)]},
        headers={"Retry-After": str(retry)},
    )


def requires(scope: str):
    """View decorator: the key must carry `scope` (read, write or send) → else 403 insufficient_scope."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if scope not in (g.api_key.scopes or []):
                raise ApiError(
                    403, "insufficient_scope", f"This key lacks the `{scope}` scope.", {"scope": [scope]}
                )
            return view(*args, **kwargs)

        wrapped._api_scope = scope
        return wrapped

    return decorator
