"""Creating people and changing their roles inside an agency or a client."""

from __future__ import annotations

from sqlalchemy import func, select

from ..emailaddr import normalise_address
from ..extensions import db
from ..models import Agency, Client, Membership, User
from ..models.user import AGENCY_ROLES, CLIENT_ROLES, ROLE_AGENCY_OWNER, new_session_token
from . import DomainError, NotFound
from .audit import record
from .i18n_safe import _


def normalise_email(raw: str) -> str:
    try:
        return normalise_address(raw)
    except ValueError as exc:
        raise DomainError(
            _("'%(address)s' is not a valid email address: %(error)s", address=raw, error=exc)
        ) from exc


def get_user(user_id: int, *, client: Client | None = None) -> User:
    """A user of the bound agency; inside a client only that client's users exist."""
    query = select(User).join(Membership, Membership.user_id == User.id).where(User.id == user_id)
    if client is not None:
        query = query.where(Membership.client_id == client.id)
    user = db.session.scalar(query)
    if user is None:
        raise NotFound("user")
    return user


def list_agency_staff() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.client_id.is_(None))
            .order_by(User.email)
        )
    )


def list_client_users(client: Client) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.client_id == client.id)
            .order_by(User.email)
        )
    )


def create_user(
    *,
    actor: User | None,
    agency: Agency,
    email: str,
    role: str,
    client: Client | None = None,
    name: str = "",
    password_hash: str | None = None,
) -> User:
    """Create a user holding one role. Without a password hash the user must accept an invitation."""
    if client is None and role not in AGENCY_ROLES:
        raise DomainError(_("Agency users must be owners or staff."))
    if client is not None and role not in CLIENT_ROLES:
        raise DomainError(_("Client users must be admins, editors or viewers."))
    email = normalise_email(email)
    exists = db.session.scalar(select(func.count()).select_from(User).where(User.email == email))
    if exists:
        raise DomainError(_("A user with the address %(email)s exists already.", email=email))
    user = User(agency_id=agency.id, email=email, name=name.strip(), password_hash=password_hash)
    user.membership = Membership(agency_id=agency.id, client_id=client.id if client else None, role=role)
    db.session.add(user)
    db.session.flush()
    record(
        "user.created",
        actor=actor,
        agency_id=agency.id,
        client_id=client.id if client else None,
        target=email,
        role=role,
    )
    return user


def change_role(*, actor: User, user: User, role: str) -> None:
    allowed = CLIENT_ROLES if user.membership.client_id else AGENCY_ROLES
    if role not in allowed:
        raise DomainError(_("That role does not exist here."))
    if user.membership.role == ROLE_AGENCY_OWNER and role != ROLE_AGENCY_OWNER and _owner_count() <= 1:
        raise DomainError(_("The agency needs at least one owner."))
    old = user.membership.role
    if old != role:
        user.membership.role = role
        record(
            "user.role_changed",
            actor=actor,
            agency_id=user.agency_id,
            client_id=user.membership.client_id,
            target=user.email,
            old=old,
            new=role,
        )


def set_active(*, actor: User, user: User, active: bool) -> None:
    if user.id == actor.id:
        raise DomainError(_("You cannot deactivate yourself."))
    if not active and user.membership.role == ROLE_AGENCY_OWNER and _owner_count() <= 1:
        raise DomainError(_("The agency needs at least one active owner."))
    user.active = active
    if not active:
        user.session_token = new_session_token()  # live sessions end on their next request
    record(
        "user.activated" if active else "user.deactivated",
        actor=actor,
        agency_id=user.agency_id,
        client_id=user.membership.client_id,
        target=user.email,
    )


def _owner_count() -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.role == ROLE_AGENCY_OWNER, Membership.client_id.is_(None), User.active.is_(True))
    )
