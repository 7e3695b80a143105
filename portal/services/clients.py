"""Agency operations on client accounts. Run with the agency bound; the tenant filter scopes every query."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from ..extensions import db
from ..models import CLIENT_ACTIVE, CLIENT_SUSPENDED, Agency, Client, User
from ..sms import credits
from . import DomainError, NotFound
from .audit import record
from .i18n_safe import _

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63].strip("-")
    return slug or "client"


def get_client(client_id: int) -> Client:
    client = db.session.scalar(select(Client).where(Client.id == client_id))
    if client is None:
        raise NotFound("client")
    return client


def list_clients() -> list[Client]:
    return list(db.session.scalars(select(Client).order_by(Client.name)))


def create_client(
    *,
    actor: User,
    agency: Agency,
    name: str,
    email_quota_month: int,
    sms_credits: int = 0,
    timezone: str = "Europe/Rome",
    default_region: str = "IT",
) -> Client:
    """A new client. `sms_credits` is an opening balance outside the agency's pool (seed and test worlds);
    agencies give credits from their pool on the client's SMS credits page (portal/sms/credits.py)."""
    name = name.strip()
    if not name:
        raise DomainError(_("The client needs a name."))
    base = slugify(name)
    slug, n = base, 2
    while db.session.scalar(select(func.count()).select_from(Client).where(Client.slug == slug)):
        slug, n = f"{base}-{n}", n + 1
    client = Client(
        agency_id=agency.id,
        name=name,
        slug=slug,
        email_quota_month=email_quota_month,
        timezone=timezone,
        default_region=default_region,
    )
    db.session.add(client)
    db.session.flush()
    credits.open_balance(agency_id=agency.id, client_id=client.id, amount=sms_credits)
    record("client.created", actor=actor, agency_id=agency.id, client_id=client.id, target=client.slug)
    return client


def update_client(
    *,
    actor: User,
    client: Client,
    name: str,
    email_quota_month: int,
    timezone: str,
    default_region: str,
) -> None:
    """SMS credits are not set here: they move through the ledger (the client's SMS credits page)."""
    if email_quota_month < 0:
        raise DomainError(_("Quotas cannot be negative."))
    changes = {}
    for attr, value in (
        ("name", name.strip()),
        ("email_quota_month", email_quota_month),
        ("timezone", timezone),
        ("default_region", default_region),
    ):
        if getattr(client, attr) != value:
            changes[attr] = f"{getattr(client, attr)} → {value}"
            setattr(client, attr, value)
    if changes:
        record(
            "client.updated",
            actor=actor,
            agency_id=client.agency_id,
            client_id=client.id,
            target=client.slug,
            **changes,
        )


def set_client_status(*, actor: User, client: Client, active: bool) -> None:
    client.status = CLIENT_ACTIVE if active else CLIENT_SUSPENDED
    record(
        "client.reactivated" if active else "client.suspended",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=client.slug,
    )
