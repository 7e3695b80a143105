"""Helpers for the two-factor tests: enrol through the real pages, read what they show, read the rows."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pyotp
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, RecoveryCode, TotpCredential, User
from portal.tenancy import all_tenants

from .support import HostClient

SECRET_RE = re.compile(r'data-testid="totp-secret">([A-Z2-7 ]+)<')
CODES_RE = re.compile(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>")


def secret_on_page(page_html: str) -> str:
    m = SECRET_RE.search(page_html)
    assert m, "no TOTP secret on the setup page"
    return m.group(1).replace(" ", "")


def recovery_codes_on_page(page_html: str) -> list[str]:
    return CODES_RE.findall(html.unescape(page_html))


def enrol_through_pages(c: HostClient) -> tuple[str, list[str]]:
    """Open the setup page, read the secret as a person would, confirm with the app's current code."""
    page = c.get("/account/two-factor/setup")
    assert page.status_code == 200, page.status_code
    secret = secret_on_page(page.get_data(as_text=True))
    resp = c.post(
        "/account/two-factor/setup", {"code": pyotp.TOTP(secret).now()}, csrf_path="/account/two-factor/setup"
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:400]
    codes = recovery_codes_on_page(resp.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def code_at(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def sign_in_with_password(c: HostClient, email: str, password: str, **kw):
    return c.post("/login", {"email": email, "password": password}, **kw)


def credential_of(app, user_id: int) -> TotpCredential | None:
    with app.app_context(), all_tenants():
        return db.session.scalar(select(TotpCredential).where(TotpCredential.user_id == user_id))


def recovery_rows(app, user_id: int) -> list[RecoveryCode]:
    with app.app_context(), all_tenants():
        return list(db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user_id)))


def audit_actions(app, target: str | None = None) -> list[str]:
    with app.app_context(), all_tenants():
        query = select(AuditEvent.action).order_by(AuditEvent.id)
        if target is not None:
            query = query.where(AuditEvent.target == target)
        return list(db.session.scalars(query))


def session_token(app, user_id: int) -> str:
    with app.app_context(), all_tenants():
        return db.session.scalar(select(User.session_token).where(User.id == user_id))


def now() -> datetime:
    return datetime.now(UTC)
