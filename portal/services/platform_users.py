"""Platform administrators: the operator accounts of the back-office (`User.agency_id IS NULL`)."""

from __future__ import annotations

import secrets

from flask_babel import gettext as _
from sqlalchemy import func, select

from ..extensions import db
from ..models import User
from ..models.user import new_session_token
from ..passwords import hash_password
from ..tenancy import all_tenants
from . import DomainError, NotFound
from .audit import record
from .users import normalise_email


def list_platform_admins() -> list[User]:
    with all_tenants():
        return list(db.session.scalars(select(User).where(User.agency_id.is_(None)).order_by(User.email)))


def get_platform_admin(user_id: int) -> User:
    with all_tenants():
        user = db.session.scalar(select(User).where(User.id == user_id, User.agency_id.is_(None)))
    if user is None:
        raise NotFound("user")
    return user


def create_platform_admin(*, actor: User, email: str, name: str = "") -> User:
    """The new operator gets an unguessable random password nobody knows; they choose their own through
    the reset link the caller sends (`accounts.request_password_reset(None, email)`)."""
    email = normalise_email(email)
    with all_tenants():
        exists = db.session.scalar(
            select(func.count()).select_from(User).where(User.agency_id.is_(None), User.email == email)
        )
        if exists:
            raise DomainError(
                _("A platform administrator with the address %(email)s exists already.", email=email)
            )
        user = User(
            agency_id=None,
            email=email,
            name=(name or "").strip(),
            password_hash=hash_password(secrets.token_urlsafe(32)),
        )
        db.session.add(user)
        db.session.flush()
        record("platform_admin.created", actor=actor, agency_id=None, target=email)
    return user


def set_platform_admin_active(*, actor: User, user: User, active: bool) -> None:
    if user.id == actor.id:
        raise DomainError(_("You cannot deactivate yourself."))
    with all_tenants():
        if not active and user.active:
            others = db.session.scalar(
                select(func.count())
                .select_from(User)
                .where(User.agency_id.is_(None), User.active.is_(True), User.id != user.id)
            )
            if not others:
                raise DomainError(_("The platform needs at least one active administrator."))
        user.active = active
        if not active:
            user.session_token = new_session_token()  # live sessions end on their next request
        record(
            "platform_admin.activated" if active else "platform_admin.deactivated",
            actor=actor,
            agency_id=None,
            target=user.email,
        )
