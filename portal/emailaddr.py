"""Email address syntax for portal accounts (email-validator), with development hosts allowed.

`.localhost` and `.test` are reserved names that email-validator refuses. The demo seed and the tests use
them, so they are accepted only when the platform itself runs on such a base domain."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_app_context

DEV_TLDS = ("localhost", "test")


def _dev_platform() -> bool:
    if not has_app_context():
        return False
    base = current_app.config["PORTAL_SETTINGS"].base_domain
    return base.rsplit(".", 1)[-1] in DEV_TLDS


def normalise_address(raw: str) -> str:
    """Return the normalised, lower-cased address or raise ValueError with a readable reason."""
    raw = (raw or "").strip()
    local, _, domain = raw.rpartition("@")
    stand_in = None
    if _dev_platform() and domain.lower().rsplit(".", 1)[-1] in DEV_TLDS:
        stand_in, raw = domain.lower(), f"{local}@example.com"
    try:
        info = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc
    address = info.normalized.lower()
    if stand_in:
        address = address.rpartition("@")[0] + "@" + stand_in
    return address
