"""Sender domains (DNS-verified, with a DKIM key the portal generates) and sender identities."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import dns.exception
import dns.resolver
from sqlalchemy import func, select

from ..crypto import encrypt_json
from ..extensions import db
from ..hosts import BadHost, normalise_host
from ..mail.dkim import dns_record, generate_key
from ..models import Client, SenderDomain, SenderIdentity, User
from . import DomainError, NotFound
from .audit import record
from .i18n_safe import _
from .users import normalise_email


def lookup_txt(name: str) -> list[str]:
    try:
        answer = dns.resolver.resolve(name, "TXT", lifetime=5)
    except (dns.exception.DNSException, OSError):
        return []
    return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]


def get_domain(domain_id: int) -> SenderDomain:
    d = db.session.scalar(select(SenderDomain).where(SenderDomain.id == domain_id))
    if d is None:
        raise NotFound("sender domain")
    return d


def add_domain(*, actor: User | None, client: Client, domain: str) -> SenderDomain:
    try:
        host = normalise_host(domain)
    except BadHost as exc:
        raise DomainError(_("'%(domain)s' is not a valid domain name.", domain=domain)) from exc
    if db.session.scalar(select(func.count()).select_from(SenderDomain).where(SenderDomain.domain == host)):
        raise DomainError(_("%(host)s is already added.", host=host))
    private_pem, public_b64 = generate_key()
    d = SenderDomain(
        agency_id=client.agency_id,
        client_id=client.id,
        domain=host,
        verification_token=secrets.token_hex(16),
        dkim_selector=f"p{secrets.token_hex(3)}",
        dkim_private_key=encrypt_json({"pem": private_pem}),
        dkim_public_key=public_b64,
    )
    db.session.add(d)
    db.session.flush()
    record("sender_domain.added", actor=actor, agency_id=client.agency_id, client_id=client.id, target=host)
    return d


def dns_records(d: SenderDomain) -> list[dict]:
    """The records the client publishes: ownership and DKIM."""
    return [
        {
            "type": "TXT",
            "name": f"_portal-verification.{d.domain}",
            "value": f"portal-verification={d.verification_token}",
            "purpose": "ownership",
        },
        {
            "type": "TXT",
            "name": f"{d.dkim_selector}._domainkey.{d.domain}",
            "value": dns_record(d.dkim_public_key),
            "purpose": "dkim",
        },
    ]


def check_domain(*, actor: User | None, d: SenderDomain, resolver=lookup_txt) -> dict:
    """Look both records up; the domain is verified when both are published exactly."""
    results = {}
    for rec in dns_records(d):
        found = [v.replace(" ", "") for v in resolver(rec["name"])]
        results[rec["purpose"]] = rec["value"].replace(" ", "") in found
    d.last_check_at, d.last_check = datetime.now(UTC), results
    if all(results.values()) and d.verified_at is None:
        d.verified_at = datetime.now(UTC)
        record(
            "sender_domain.verified",
            actor=actor,
            agency_id=d.agency_id,
            client_id=d.client_id,
            target=d.domain,
        )
    return results


def add_identity(
    *, actor: User | None, client: Client, name: str, email: str, reply_to: str = ""
) -> SenderIdentity:
    address = normalise_email(email)
    domain_part = address.rpartition("@")[2]
    d = db.session.scalar(select(SenderDomain).where(SenderDomain.domain == domain_part))
    if d is None:
        raise DomainError(
            _("Add the domain %(domain)s first: you can only send from your own domains.", domain=domain_part)
        )
    if not name.strip():
        raise DomainError(_("A sender needs a name."))
    ident = SenderIdentity(
        agency_id=client.agency_id,
        client_id=client.id,
        domain_id=d.id,
        name=name.strip()[:120],
        email=address,
        reply_to=normalise_email(reply_to) if reply_to.strip() else "",
    )
    db.session.add(ident)
    db.session.flush()
    record("sender.added", actor=actor, agency_id=client.agency_id, client_id=client.id, target=address)
    return ident
