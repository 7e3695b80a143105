"""The per-request lifecycle: host → tenant → user → client context, and teardown.

Order matters and lives in one place:
1. resolve the Host (unknown → plain 404, no cookie, no branding);
2. bind the agency, load the user for this host (a session from another host is anonymous here);
3. bind the client when the user is a client user or agency staff "acting as client".
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, current_app, g, request, session
from flask_login import current_user, logout_user
from sqlalchemy import select
from werkzeug.exceptions import BadHost

from .extensions import db
from .guards import KEY_AUTH_BLUEPRINTS
from .hosts import KIND_AGENCY, resolve
from .models import Agency, Client
from .tenancy import Tenant, all_tenants, reset_tenant, set_tenant

SEEN_RESOLUTION_SECONDS = 60


def _now() -> float:
    return datetime.now(UTC).timestamp()


def resolve_host_and_tenant():
    settings = current_app.config["PORTAL_SETTINGS"]
    host = resolve(request.host, settings.admin_host)
    if host is None or isinstance(request.routing_exception, BadHost):
        # BadHost: Werkzeug could not even build a URL adapter for this Host; treat it as unknown.
        g.host = None
        abort(404)
    g.host = host
    g.agency = None
    g.client = None
    g.acting_as_client = False
    if host.kind == KIND_AGENCY:
        with all_tenants():
            g.agency = db.session.get(Agency, host.agency_id)
        g.tenant_token = set_tenant(Tenant(agency_id=host.agency_id))


def bind_user_and_client():
    """Runs after the host is known. Forces the user load so the client can be bound before views.
    REST API requests carry a key instead (portal/api/auth.py): their session cookie is never read."""
    if request.blueprint in KEY_AUTH_BLUEPRINTS:
        return
    if not current_user.is_authenticated:
        return
    if _session_expired():
        logout_user()
        session.clear()
        return
    now = _now()
    if now - session.get("seen", 0) > SEEN_RESOLUTION_SECONDS:
        # Written at most once a minute: a session that is not modified sends no cookie, so a slow
        # background request (the editor's live preview) cannot overwrite a newer cookie with an old one.
        session["seen"] = now
    if g.host.kind != KIND_AGENCY:
        return
    client_id = None
    if current_user.is_client_user:
        client_id = current_user.client_id
    elif current_user.is_agency_staff and session.get("acting_client_id"):
        client_id = int(session["acting_client_id"])
        g.acting_as_client = True
    if client_id is None:
        return
    client = db.session.scalar(select(Client).where(Client.id == client_id))
    if client is None or (not client.is_active and not g.acting_as_client):
        if g.acting_as_client:
            session.pop("acting_client_id", None)
            g.acting_as_client = False
        else:
            logout_user()  # a suspended client's users are signed out
        return
    g.client = client
    reset_tenant(g.tenant_token)
    g.tenant_token = set_tenant(Tenant(agency_id=g.agency.id, client_id=client.id))


def _session_expired() -> bool:
    """Idle and absolute timeouts (settings): an operator's session opens every tenant, so it idles out
    sooner than everybody else's."""
    settings = current_app.config["PORTAL_SETTINGS"]
    idle_minutes = (
        settings.operator_session_idle_minutes
        if current_user.is_platform_admin
        else settings.session_idle_minutes
    )
    now = _now()
    issued = session.get("issued", 0)
    seen = session.get("seen", issued)
    return now - issued > settings.session_max_hours * 3600 or now - seen > idle_minutes * 60


def teardown_tenant(exc=None):
    token = g.pop("tenant_token", None)
    if token is not None:
        try:
            reset_tenant(token)
        except ValueError:
            pass  # token from another context (streamed responses); the ContextVar dies with it
