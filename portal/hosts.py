"""Tenant resolution from the Host header (DESIGN.md §2). The Domain table is the allow-list."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from .extensions import db
from .models import Agency, Domain
from .tenancy import all_tenants

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

KIND_ADMIN = "admin"
KIND_AGENCY = "agency"


class BadHost(ValueError):
    pass


def normalise_host(raw: str | None) -> str:
    """Lower-case, strip port and trailing dot, IDNA-encode; raise BadHost for anything else odd."""
    if not raw:
        raise BadHost("empty host")
    host = raw.strip()
    if host.startswith("["):
        raise BadHost("IP literal")  # tenants are never addressed by IP
    if ":" in host:
        host, _, port = host.rpartition(":")
        if not port.isdigit():
            raise BadHost("bad port")
    # One trailing dot is the fully-qualified form of the same name; more is malformed (and Werkzeug's
    # URL adapter cannot be built for it, which broke the error page with a 500).
    host = host.removesuffix(".").lower()
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise BadHost("bad IDN") from exc
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise BadHost("bad label")
    return host


@dataclass(frozen=True)
class HostContext:
    kind: str
    host: str
    agency_id: int | None = None

    @property
    def session_key(self) -> str:
        return "admin" if self.kind == KIND_ADMIN else f"agency:{self.agency_id}"


def resolve(raw_host: str | None, admin_host: str) -> HostContext | None:
    """Return the context for a host, or None for anything unknown, unverified or suspended."""
    try:
        host = normalise_host(raw_host)
    except BadHost:
        return None
    if host == admin_host:
        return HostContext(kind=KIND_ADMIN, host=host)
    with all_tenants():
        row = db.session.execute(
            select(Domain.agency_id, Agency.status)
            .join(Agency, Agency.id == Domain.agency_id)
            .where(Domain.host == host, Domain.verified_at.is_not(None))
        ).first()
    if row is None or row.status != "active":
        return None
    return HostContext(kind=KIND_AGENCY, host=host, agency_id=row.agency_id)
