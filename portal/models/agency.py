"""The white-label tenant and the hosts it answers on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TZDateTime, utcnow

AGENCY_ACTIVE = "active"
AGENCY_SUSPENDED = "suspended"

DEFAULT_PRIMARY = "#2458d6"
DEFAULT_ACCENT = "#16a34a"


class Agency(db.Model):
    """Platform-owned: the agency row itself is not tenant-filtered (it *is* the tenant)."""

    __tablename__ = "agency"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=AGENCY_ACTIVE)
    primary_color: Mapped[str] = mapped_column(String(7), default=DEFAULT_PRIMARY)
    accent_color: Mapped[str] = mapped_column(String(7), default=DEFAULT_ACCENT)
    footer_text: Mapped[str] = mapped_column(Text, default="")
    support_email: Mapped[str] = mapped_column(String(254), default="")
    default_locale: Mapped[str] = mapped_column(String(8), default="en")
    logo_data: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    logo_mime: Mapped[str | None] = mapped_column(String(32), nullable=True)
    favicon_data: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    favicon_mime: Mapped[str | None] = mapped_column(String(32), nullable=True)
    branding_version: Mapped[int] = mapped_column(Integer, default=1)  # cache-busts logo URLs
    # The connection a client of this agency uses per channel unless bound to another one. No foreign
    # key: connection rows reference the agency already (a cycle); a default connection cannot be deleted.
    default_email_connection_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    default_sms_connection_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Two-factor sign-in the agency demands of its own staff, and (separately) of its clients' users.
    two_factor_staff_required: Mapped[bool] = mapped_column(Boolean, default=False)
    two_factor_clients_required: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)

    domains: Mapped[list[Domain]] = relationship(back_populates="agency", cascade="all, delete-orphan")

    @property
    def is_active(self) -> bool:
        return self.status == AGENCY_ACTIVE

    @property
    def canonical_domain(self) -> Domain | None:
        verified = [d for d in self.domains if d.verified_at is not None]
        for d in verified:
            if d.is_canonical:
                return d
        return verified[0] if verified else None


class Domain(db.Model):
    """A host an agency answers on. Platform-owned: resolved before any tenant is known."""

    __tablename__ = "domain"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    host: Mapped[str] = mapped_column(String(253), unique=True)  # normalised: lower-case, IDNA, no port/dot
    is_canonical: Mapped[bool] = mapped_column(Boolean, default=False)
    verification_token: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)

    agency: Mapped[Agency] = relationship(back_populates="domains")

    @property
    def txt_record_name(self) -> str:
        return f"_portal-verification.{self.host}"

    @property
    def txt_record_value(self) -> str:
        return f"portal-verification={self.verification_token}"
