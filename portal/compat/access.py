"""Whether a client's lists answer on the compatible subscribe endpoints, and from which caller IPs."""

from __future__ import annotations

import ipaddress

from sqlalchemy import select

from ..extensions import db
from ..models import Client, CompatAccess, User
from ..services import DomainError
from ..services.audit import record
from ..services.i18n_safe import _


def get_access(client: Client) -> CompatAccess | None:
    return db.session.scalar(select(CompatAccess).where(CompatAccess.client_id == client.id))


def parse_networks(text: str) -> list[str]:
    """One IP address or CIDR network per line (commas and spaces too); DomainError naming bad lines."""
    entries = [e.strip() for e in text.replace(",", "\n").split() if e.strip()]
    good, bad = [], []
    for entry in entries:
        try:
            good.append(str(ipaddress.ip_network(entry, strict=False)))
        except ValueError:
            bad.append(entry)
    if bad:
        raise DomainError(_("Not an IP address or network: %(entries)s", entries=", ".join(bad)))
    return list(dict.fromkeys(good))


def update_access(*, actor: User | None, client: Client, enabled: bool, allowed_ips: str) -> CompatAccess:
    networks = parse_networks(allowed_ips)
    access = get_access(client)
    if access is None:
        access = CompatAccess(agency_id=client.agency_id, client_id=client.id)
        db.session.add(access)
    access.enabled, access.allowed_ips = enabled, "\n".join(networks)
    db.session.flush()
    record(
        "subscribe_endpoints.changed",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target="on" if enabled else "off",
        allowed_ips=access.allowed_ips,
    )
    return access


def caller_allowed(access: CompatAccess | None, ip: str) -> bool:
    """On, and the caller's IP on the allow-list (an empty list allows any caller)."""
    if access is None or not access.enabled:
        return False
    networks = [n for n in (access.allowed_ips or "").split() if n]
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)
