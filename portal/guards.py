"""Deny by default: every endpoint needs a login unless it is on this allow-list.

Areas then narrow further by role (`require_area`); finer checks use `roles_required`.
"""

from __future__ import annotations

from functools import wraps

from flask import abort, g, redirect, request, session, url_for
from flask_login import current_user

from .hosts import KIND_ADMIN, KIND_AGENCY
from .twofactor.policy import must_enrol

# Endpoints anybody may reach (on a known host). Everything else requires a logged-in user.
PUBLIC_ENDPOINTS = frozenset(
    {
        "static",
        "auth.login",
        "auth.forgot",
        "auth.reset",
        "auth.accept_invite",
        "auth.set_language",
        # The second sign-in step: it answers only a session that passed the password a moment ago.
        "auth.second_factor",
        "auth.second_factor_cancel",
        "public.health",
        "public.logo",
        "public.favicon",
        # Reached from campaign email by recipients, who have no account: each checks an HMAC token.
        "mailpublic.unsubscribe",
        "mailpublic.preferences",
        "mailpublic.open_pixel",
        "mailpublic.click",
        "mailpublic.view",
        "mailpublic.image",
        # The email provider's callbacks (unsubscribes, profile updates): a per-binding secret in the path.
        "providerhooks.callback",
        # The SMS gateway's delivery reports and inbound replies: a per-connection secret in the path.
        "smshooks.report",
        "smshooks.inbound",
        # Subscription forms (hosted page, submission, the emailed confirmation link) and the subscribe
        # endpoints of plugins written for the previous provider: public by nature; each is bound to a
        # form key, a confirmation token or a list id checked within the host's agency.
        "formpublic.hosted",
        "formpublic.submit",
        "formpublic.confirm",
        "compat.frontend",
    }
)

# The session key of a sign-in waiting for its second factor (portal/auth/sessions.py).
SECOND_FACTOR_PENDING = "second_factor_pending"
# Harmless everywhere: assets, the brand's images, the health check, the language switch, and the pages
# of campaign recipients (token links that never look at the session).
_ALWAYS = frozenset(
    {"static", "public.health", "public.logo", "public.favicon", "auth.set_language"}
    | {e for e in PUBLIC_ENDPOINTS if e.startswith(("mailpublic.", "formpublic.", "compat."))}
)
# Half-way through sign-in (password done, code not yet): the code step, or giving up.
SECOND_FACTOR_STEP = _ALWAYS | {"auth.second_factor", "auth.second_factor_cancel"}
# Signed in but required to enrol first: the enrolment page, or signing out.
ENROLMENT_STEP = _ALWAYS | {"auth.two_factor_setup", "auth.logout"}

# Which host kind each blueprint answers on; anything else is a 404 there.
BLUEPRINT_HOSTS = {
    "admin": {KIND_ADMIN},
    "agency": {KIND_AGENCY},
    "client": {KIND_AGENCY},
    "audience": {KIND_AGENCY},
    "transfers": {KIND_AGENCY},
    "batch": {KIND_AGENCY},
    "suppressions": {KIND_AGENCY},
    "campaigns": {KIND_AGENCY},
    "reports": {KIND_AGENCY},
    "mailpublic": {KIND_AGENCY},
    "providerhooks": {KIND_AGENCY},
    "sms": {KIND_AGENCY},
    "smsagency": {KIND_AGENCY},
    "smsadmin": {KIND_ADMIN},
    "smshooks": {KIND_AGENCY},
    "forms": {KIND_AGENCY},
    "formpublic": {KIND_AGENCY},
    "compat": {KIND_AGENCY},
    "api": {KIND_AGENCY},
    "integrations": {KIND_AGENCY},
    "webhooks": {KIND_AGENCY},
    "auth": {KIND_ADMIN, KIND_AGENCY},
    "public": {KIND_ADMIN, KIND_AGENCY},
    "jobs": {KIND_ADMIN, KIND_AGENCY},
    None: {KIND_ADMIN, KIND_AGENCY},
}


# Blueprints whose every request is authenticated by an API key in its own before_request (portal/api/
# auth.py), which refuses a request without one: no session, no login redirect, no second-factor detour.
KEY_AUTH_BLUEPRINTS = frozenset({"api"})


def enforce_route_guard():
    """Runs before every view: host/blueprint match, then login for non-public endpoints."""
    if request.endpoint is None:
        return None  # 404/405 from routing; the error handler answers
    blueprint = request.blueprint
    if g.host.kind not in BLUEPRINT_HOSTS.get(blueprint, set()):
        abort(404)
    if blueprint in KEY_AUTH_BLUEPRINTS:
        return None
    detour = _second_factor_detour()
    if detour is not None:
        return detour
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return None


def _second_factor_detour():
    """Nothing else first: a sign-in waiting for its code stays on the code step, and a signed-in user who
    must have a second factor but has none (just signed in, or the agency switched the requirement on, or
    it was reset) stays on the enrolment page until it is set up."""
    if current_user.is_authenticated:
        if request.endpoint not in ENROLMENT_STEP and must_enrol(current_user, g.agency):
            return redirect(url_for("auth.two_factor_setup"))
        return None
    if session.get(SECOND_FACTOR_PENDING) and request.endpoint not in SECOND_FACTOR_STEP:
        return redirect(url_for("auth.second_factor"))
    return None


def require_area(area: str):
    """Blueprint-level role gate. Wrong role → 404 (the area does not exist for them)."""

    def check():
        if not current_user.is_authenticated:
            return None  # enforce_route_guard already redirected non-public endpoints
        if area == "admin" and not current_user.is_platform_admin:
            abort(404)
        if area == "agency" and not current_user.is_agency_staff:
            abort(404)
        if area == "client" and g.get("client") is None:
            abort(404)
        return None

    return check


def roles_required(*roles: str):
    """View decorator for finer checks inside an area (e.g. only client admins manage users)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            role = current_user.role
            # Agency staff acting inside a client have full client rights.
            if role in roles or (g.get("acting_as_client") and "client_admin" in roles):
                return view(*args, **kwargs)
            abort(403)

        return wrapped

    return decorator


def client_role() -> str | None:
    """The effective role inside the bound client: agency staff acting as the client count as its admins."""
    from .models.user import ROLE_CLIENT_ADMIN

    if g.get("acting_as_client"):
        return ROLE_CLIENT_ADMIN
    return current_user.role if current_user.is_authenticated else None
