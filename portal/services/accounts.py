"""Login, password reset and invitations. Tokens are 256-bit random, stored hashed, single-use, expiring."""

from __future__ import annotations

import hashlib
import secrets
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..links import absolute
from ..models import ActionToken, Agency, User
from ..models.token import PURPOSE_INVITE, PURPOSE_RESET
from ..models.user import new_session_token
from ..passwords import check_policy, hash_password, needs_rehash, verify_password
from ..tenancy import all_tenants
from . import DomainError
from .audit import record
from .notifications import queue_email

RESET_TTL = timedelta(hours=1)
INVITE_TTL = timedelta(days=7)


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def find_login_user(agency: Agency | None, email: str) -> User | None:
    """Users are unique per (agency, email); on the admin host only platform administrators exist."""
    email = email.strip().lower()
    query = select(User).where(User.email == email)
    if agency is None:
        with all_tenants():
            return db.session.scalar(query.where(User.agency_id.is_(None)))
    return db.session.scalar(query)


def authenticate(agency: Agency | None, email: str, password: str) -> User | None:
    """The password step. A user with a second factor is not signed in yet: see `signed_in`."""
    user = find_login_user(agency, email)
    ok = verify_password(user.password_hash if user else None, password)  # same cost when unknown
    if user is None or not ok or not user.active:
        record(
            "login.failed", actor=None, agency_id=agency.id if agency else None, target=email.strip()[:254]
        )
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def signed_in(user: User, *, second_factor: str) -> None:
    """Every step passed: record the sign-in ("none", "totp" or "recovery" as the second factor)."""
    user.last_login_at = datetime.now(UTC)
    record("login.succeeded", actor=user, agency_id=user.agency_id, second_factor=second_factor)


def set_password(user: User, password: str, *, actor: User | None, reason: str) -> None:
    check_policy(password)
    user.password_hash = hash_password(password)
    user.session_token = new_session_token()  # every other session of this user ends here
    record(
        "credentials.password_changed",
        actor=actor or user,
        agency_id=user.agency_id,
        target=user.email,
        reason=reason,
    )


def _issue_token(user: User, purpose: str, ttl: timedelta) -> str:
    raw = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    # A new token of the same purpose replaces the old ones.
    for old in db.session.scalars(
        select(ActionToken).where(
            ActionToken.user_id == user.id, ActionToken.purpose == purpose, ActionToken.used_at.is_(None)
        )
    ):
        old.used_at = now
    db.session.add(
        ActionToken(
            user_id=user.id,
            agency_id=user.agency_id,
            purpose=purpose,
            token_hash=_hash_token(raw),
            expires_at=now + ttl,
        )
    )
    return raw


def request_password_reset(agency: Agency | None, email: str) -> None:
    """Always looks the same to the caller; only a known, active user gets an email."""
    user = find_login_user(agency, email)
    if user is None or not user.active or user.password_hash is None:
        return
    raw = _issue_token(user, PURPOSE_RESET, RESET_TTL)
    link = absolute(agency, f"/reset/{raw}")
    queue_email(agency=agency, user=user, template="reset", subject=_("Reset your password"), link=link)
    record("credentials.reset_requested", actor=user, agency_id=user.agency_id)


def _valid_token(raw: str, purpose: str) -> ActionToken | None:
    query = select(ActionToken).where(
        ActionToken.token_hash == _hash_token(raw), ActionToken.purpose == purpose
    )
    token = db.session.scalar(query)  # tenant-filtered on agency hosts
    if token is None or token.used_at is not None or token.expires_at < datetime.now(UTC):
        return None
    return token


def check_token(agency: Agency | None, raw: str, purpose: str) -> ActionToken | None:
    if agency is None:
        with all_tenants():
            token = _valid_token(raw, purpose)
        return token if token is not None and token.agency_id is None else None
    return _valid_token(raw, purpose)


def complete_reset(agency: Agency | None, raw: str, password: str) -> User:
    token = check_token(agency, raw, PURPOSE_RESET)
    if token is None:
        raise DomainError(_("This link is invalid or has expired. Ask for a new one."))
    with all_tenants() if agency is None else nullcontext():
        set_password(token.user, password, actor=token.user, reason="reset")
        token.used_at = datetime.now(UTC)
    return token.user


def invite(agency: Agency, user: User, *, actor: User) -> None:
    raw = _issue_token(user, PURPOSE_INVITE, INVITE_TTL)
    link = absolute(agency, f"/invite/{raw}")
    queue_email(
        agency=agency,
        user=user,
        template="invite",
        subject=_("You are invited to %(name)s", name=agency.name),
        link=link,
        inviter=actor,
    )
    record("user.invited", actor=actor, agency_id=agency.id, target=user.email)


def accept_invite(agency: Agency, raw: str, name: str, password: str) -> User:
    token = check_token(agency, raw, PURPOSE_INVITE)
    if token is None:
        raise DomainError(_("This invitation is invalid or has expired. Ask for a new one."))
    user = token.user
    if name:
        user.name = name
    set_password(user, password, actor=user, reason="invite accepted")
    token.used_at = datetime.now(UTC)
    return user
