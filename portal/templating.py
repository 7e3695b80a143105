"""What every template can see: the brand of the current host, the CSP nonce, languages, the acting banner."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, g, url_for

from .i18n import LANGUAGES
from .models.agency import DEFAULT_ACCENT, DEFAULT_PRIMARY


@dataclass(frozen=True)
class Brand:
    name: str
    primary_color: str
    accent_color: str
    footer_text: str
    support_email: str
    logo_url: str | None
    favicon_url: str | None


# The back-office has its own neutral brand; it never shows an agency's.
PLATFORM_BRAND = Brand("Portal Back-office", "#1f2937", "#2458d6", "", "", None, None)


def current_brand() -> Brand:
    agency = g.get("agency")
    if agency is None:
        return PLATFORM_BRAND
    v = agency.branding_version
    return Brand(
        name=agency.name,
        primary_color=agency.primary_color or DEFAULT_PRIMARY,
        accent_color=agency.accent_color or DEFAULT_ACCENT,
        footer_text=agency.footer_text or "",
        support_email=agency.support_email or "",
        logo_url=url_for("public.logo", v=v) if agency.logo_mime else None,
        favicon_url=url_for("public.favicon", v=v) if agency.favicon_mime else None,
    )


def status_label(status: str) -> str:
    from flask_babel import gettext as _

    labels = {
        "active": _("active"),
        "suspended": _("suspended"),
        "pending": _("pending"),
        "verified": _("verified"),
        "queued": _("queued"),
        "running": _("running"),
        "done": _("done"),
        "failed": _("failed"),
        "cancelled": _("cancelled"),
        "invited": _("invited"),
        "inactive": _("inactive"),
        # campaigns
        "draft": _("draft"),
        "scheduled": _("scheduled"),
        "sending": _("sending"),
        "paused": _("paused"),
        "sent": _("sent"),
        # deliveries (pending, sent and failed are shared above)
        "claimed": _("sending"),
        "skipped": _("skipped"),
        # imports
        "uploaded": _("uploaded"),
        # batch-source runs and files
        "partial": _("partly done"),
        "retry": _("waiting for the next run"),
        # list subscriptions
        "subscribed": _("subscribed"),
        "unsubscribed": _("unsubscribed"),
        "bounced": _("bounced"),
        "complained": _("complained"),
    }
    return labels.get(status, status)


def register(app: Flask) -> None:
    from flask_babel import get_locale

    app.jinja_env.globals["status_label"] = status_label
    app.jinja_env.globals["get_locale"] = get_locale

    @app.context_processor
    def inject_client_role():
        """One answer for every client-area page (nav and buttons) on what the user may do there."""
        if g.get("client") is None:
            return {}
        from .guards import client_role
        from .models.user import ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR

        role = client_role()
        return {
            "client_role": role,
            "can_admin": role == ROLE_CLIENT_ADMIN,
            "can_write": role in (ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR),
        }

    @app.context_processor
    def inject():
        return {
            "brand": current_brand(),
            "csp_nonce": g.get("csp_nonce", ""),
            "languages": LANGUAGES,
            "host_ctx": g.get("host"),
            "current_client": g.get("client"),
            "acting_as_client": g.get("acting_as_client", False),
        }
