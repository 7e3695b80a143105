"""Platform operations on agencies and their domains (back-office; runs under `all_tenants()`)."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

import dns.exception
import dns.resolver
from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..hosts import BadHost, normalise_host
from ..models import AGENCY_ACTIVE, AGENCY_SUSPENDED, Agency, Domain, User
from ..tenancy import all_tenants
from . import DomainError, NotFound
from .audit import record
from .i18n_safe import _

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def _base_domain() -> str:
    return current_app.config["PORTAL_SETTINGS"].base_domain


def get_agency(agency_id: int) -> Agency:
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        raise NotFound("agency")
    return agency


def create_agency(*, actor: User, name: str, slug: str, default_locale: str = "en") -> Agency:
    """Create the agency and its automatic host `<slug>.<base domain>` (verified and canonical)."""
    slug = slug.strip().lower()
    if not SLUG.match(slug) or slug == "admin":
        raise DomainError(
            _("The short name may use lower-case letters, digits and dashes, and not be 'admin'.")
        )
    if db.session.scalar(select(func.count()).select_from(Agency).where(Agency.slug == slug)):
        raise DomainError(_("An agency with the short name '%(slug)s' exists already.", slug=slug))
    agency = Agency(name=name.strip(), slug=slug, default_locale=default_locale)
    db.session.add(agency)
    db.session.flush()
    add_domain(actor=actor, agency=agency, host=f"{slug}.{_base_domain()}", canonical=True)
    record("agency.created", actor=actor, agency_id=agency.id, target=agency.slug)
    return agency


def set_agency_status(*, actor: User, agency: Agency, active: bool) -> None:
    agency.status = AGENCY_ACTIVE if active else AGENCY_SUSPENDED
    if not active:
        # Suspension ends every session of its users at once (their hosts stop resolving too).
        from ..models.user import new_session_token

        with all_tenants():
            for user in db.session.scalars(select(User).where(User.agency_id == agency.id)):
                user.session_token = new_session_token()
    record(
        "agency.suspended" if not active else "agency.reactivated",
        actor=actor,
        agency_id=agency.id,
        target=agency.slug,
    )


def add_domain(*, actor: User, agency: Agency, host: str, canonical: bool = False) -> Domain:
    """Hosts under the base domain are ours and verified at once; custom domains need a DNS TXT record."""
    try:
        host = normalise_host(host)
    except BadHost as exc:
        raise DomainError(_("'%(host)s' is not a valid host name.", host=host)) from exc
    base = _base_domain()
    if host == base or host == f"admin.{base}":
        raise DomainError(_("That host is reserved for the platform."))
    with all_tenants():
        if db.session.scalar(select(func.count()).select_from(Domain).where(Domain.host == host)):
            raise DomainError(_("The host %(host)s is already in use.", host=host))
    ours = host.endswith("." + base)
    if ours and host.count(".") != base.count(".") + 1:
        raise DomainError(_("Hosts under %(base)s must be a single label, like name.%(base)s.", base=base))
    domain = Domain(
        agency_id=agency.id,
        host=host,
        verification_token=secrets.token_hex(16),
        verified_at=datetime.now(UTC) if ours else None,
        is_canonical=False,
    )
    db.session.add(domain)
    agency.domains.append(domain)
    if canonical:
        make_canonical(actor=actor, domain=domain)
    record("domain.added", actor=actor, agency_id=agency.id, target=host)
    return domain


def make_canonical(*, actor: User, domain: Domain) -> None:
    if domain.verified_at is None:
        raise DomainError(_("Only a verified domain can be the main one."))
    for other in domain.agency.domains:
        other.is_canonical = other is domain
    record("domain.canonical", actor=actor, agency_id=domain.agency_id, target=domain.host)


def remove_domain(*, actor: User, domain: Domain) -> None:
    agency = domain.agency
    if domain.is_canonical and len([d for d in agency.domains if d.verified_at]) > 1:
        raise DomainError(_("Make another domain the main one before removing this one."))
    agency.domains.remove(domain)
    db.session.delete(domain)
    record("domain.removed", actor=actor, agency_id=agency.id, target=domain.host)


def lookup_txt(name: str) -> list[str]:
    try:
        answer = dns.resolver.resolve(name, "TXT", lifetime=5)
    except (dns.exception.DNSException, OSError):
        return []
    return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]


def verify_domain(*, actor: User, domain: Domain, resolver=lookup_txt) -> bool:
    """Check the TXT record; verified hosts start routing immediately."""
    if domain.verified_at is not None:
        return True
    if domain.txt_record_value in resolver(domain.txt_record_name):
        domain.verified_at = datetime.now(UTC)
        if domain.agency.canonical_domain is domain or not any(d.is_canonical for d in domain.agency.domains):
            domain.is_canonical = True
        record("domain.verified", actor=actor, agency_id=domain.agency_id, target=domain.host)
        return True
    return False


PROFILE_FIELDS = ("name", "primary_color", "accent_color", "footer_text", "support_email", "default_locale")


def update_agency_profile(*, actor: User, agency: Agency, **values) -> None:
    """Back-office edit of an agency's name and branding basics; the audit row lists what changed."""
    unknown = set(values) - set(PROFILE_FIELDS)
    if unknown:
        raise DomainError(f"Unknown agency settings: {', '.join(sorted(unknown))}.")
    if "name" in values and not (values["name"] or "").strip():
        raise DomainError(_("The agency needs a name."))
    changed = []
    for attr, value in values.items():
        value = (value or "").strip()
        if getattr(agency, attr) != value:
            setattr(agency, attr, value)
            changed.append(attr)
    if changed:
        agency.branding_version = (agency.branding_version or 1) + 1
        record(
            "agency.updated", actor=actor, agency_id=agency.id, target=agency.slug, fields=", ".join(changed)
        )
