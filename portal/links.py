"""Absolute links for emails, built from the tenant's canonical domain in the database — never from the
request's Host header (checklist A5: link poisoning)."""

from __future__ import annotations

from flask import current_app

from .models import Agency


def _base(host: str) -> str:
    s = current_app.config["PORTAL_SETTINGS"]
    return f"{s.preferred_scheme}://{host}{s.public_port}"


def agency_base_url(agency: Agency | None) -> str:
    s = current_app.config["PORTAL_SETTINGS"]
    if agency is None:
        return _base(s.admin_host)
    domain = agency.canonical_domain
    if domain is None:
        raise LookupError(f"agency {agency.slug} has no verified domain to link to")
    return _base(domain.host)


def absolute(agency: Agency | None, path: str) -> str:
    assert path.startswith("/")
    return agency_base_url(agency) + path
