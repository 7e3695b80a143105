"""People who log in, and the role each holds in an agency or a client."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..tenancy import AgencyScoped, ClientScoped
from .base import AgencyColumn, TZDateTime, utcnow

if TYPE_CHECKING:
    from .twofactor import TotpCredential

ROLE_PLATFORM_ADMIN = "platform_admin"
ROLE_AGENCY_OWNER = "agency_owner"
ROLE_AGENCY_STAFF = "agency_staff"
ROLE_CLIENT_ADMIN = "client_admin"
ROLE_CLIENT_EDITOR = "client_editor"
ROLE_CLIENT_VIEWER = "client_viewer"

AGENCY_ROLES = (ROLE_AGENCY_OWNER, ROLE_AGENCY_STAFF)
CLIENT_ROLES = (ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR, ROLE_CLIENT_VIEWER)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(AgencyScoped, db.Model):
    """Unique per (agency, email). `agency_id` is NULL only for platform administrators, whose rows are
    never visible through the tenant filter (they are reached with `all_tenants()` on the admin host)."""

    __tablename__ = "user"
    __table_args__ = (
        # coalesce makes NULL (platform) agencies collide with each other, as a plain UNIQUE would not.
        Index("uq_user_agency_email", text("coalesce(agency_id, 0)"), "email", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("agency.id", ondelete="CASCADE"), nullable=True, index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str | None] = mapped_column(
        String(255), nullable=True
    )  # None until invite accepted
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)  # None = agency default
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Flask-Login "alternative id": rotating it logs out every session of this user.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    last_login_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)

    membership: Mapped[Membership | None] = relationship(
        back_populates="user", uselist=False, lazy="joined", cascade="all, delete-orphan"
    )
    # Loaded with the user: the request guard asks on every request whether a second factor exists.
    totp: Mapped[TotpCredential | None] = relationship(
        back_populates="user", uselist=False, lazy="joined", cascade="all, delete-orphan"
    )

    # --- Flask-Login protocol ---
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return self.session_token

    # --- roles ---
    @property
    def is_platform_admin(self) -> bool:
        return self.agency_id is None

    @property
    def role(self) -> str | None:
        if self.is_platform_admin:
            return ROLE_PLATFORM_ADMIN
        return self.membership.role if self.membership else None

    @property
    def is_agency_staff(self) -> bool:
        return self.role in AGENCY_ROLES

    @property
    def is_client_user(self) -> bool:
        return self.role in CLIENT_ROLES

    @property
    def client_id(self) -> int | None:
        return self.membership.client_id if self.membership else None

    @property
    def has_second_factor(self) -> bool:
        return self.totp is not None


class Membership(AgencyColumn, ClientScoped, db.Model):
    """The one role a user holds: agency-wide (client_id NULL) or inside one client."""

    __tablename__ = "membership"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), unique=True)
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("client.id", ondelete="CASCADE"), nullable=True, index=True
    )
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="membership")
