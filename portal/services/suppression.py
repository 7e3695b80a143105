"""Suppression: one answer to "may we send to this address/number for this client and list?".

Client entries, agency-wide and platform-wide entries all count. The bulk form (`suppressed_addresses`)
is what imports and sends use; `may_send` is the single-address form for the API and forms.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, text

from ..extensions import db
from ..imports.addresses import InvalidAddress, normalise_email, normalise_phone
from ..models import BlockedAddress, Client, Suppression, User
from ..models.audience import CHANNEL_EMAIL, CHANNEL_SMS, SUB_SUBSCRIBED
from ..models.suppression import PROTECTED_REASONS, REASONS
from ..tenancy import all_tenants
from . import DomainError, NotFound
from .audit import record


def normalise(channel: str, raw: str, client: Client) -> str:
    try:
        if channel == CHANNEL_EMAIL:
            return normalise_email(raw)
        if channel == CHANNEL_SMS:
            return normalise_phone(raw, client.default_region)
    except InvalidAddress as exc:
        raise DomainError(f"'{raw}': {exc}") from exc
    raise DomainError(f"unknown channel {channel!r}")


def suppression_reason(client: Client, channel: str, address: str) -> str | None:
    """The reason the address is suppressed for this client (client, agency or platform entry), or None."""
    row = db.session.execute(
        text(
            "SELECT reason FROM suppression WHERE client_id = :cid AND channel = :ch AND address = :a "
            "UNION ALL SELECT reason FROM blocked_address WHERE (agency_id = :aid OR agency_id IS NULL) "
            "AND channel = :ch AND address = :a"
        ),
        {"cid": client.id, "aid": client.agency_id, "ch": channel, "a": address},
    ).first()
    return row[0] if row else None


def may_send(client: Client, channel: str, address: str, list_id: int | None = None) -> bool:
    """True only when nothing suppresses the address and (with a list) the contact is subscribed to it."""
    if suppression_reason(client, channel, address) is not None:
        return False
    if list_id is None:
        return True
    column = "email" if channel == CHANNEL_EMAIL else "phone"
    status = db.session.execute(
        text(
            f"SELECT s.status FROM subscription s JOIN contact c ON c.id = s.contact_id WHERE s.client_id = :cid "
            f"AND s.list_id = :lid AND s.channel = :ch AND c.{column} = :a"
        ),
        {"cid": client.id, "lid": list_id, "ch": channel, "a": address},
    ).scalar()
    return status == SUB_SUBSCRIBED


def add(
    *,
    actor: User | None,
    client: Client,
    channel: str,
    raw_address: str,
    reason: str,
    source: str,
    note: str = "",
) -> Suppression:
    if reason not in REASONS:
        raise DomainError(f"unknown reason {reason!r}")
    address = normalise(channel, raw_address, client)
    existing = db.session.scalar(
        select(Suppression).where(Suppression.channel == channel, Suppression.address == address)
    )
    if existing is not None:
        return existing
    entry = Suppression(
        agency_id=client.agency_id,
        client_id=client.id,
        channel=channel,
        address=address,
        reason=reason,
        source=source,
        note=note,
        created_by_id=actor.id if actor else None,
        created_at=datetime.now(UTC),
    )
    db.session.add(entry)
    _mark_subscriptions(client, channel, address, reason)
    record(
        "suppression.added",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=address,
        reason=reason,
        channel=channel,
    )
    return entry


def _mark_subscriptions(client: Client, channel: str, address: str, reason: str) -> None:
    """Subscriptions of a suppressed contact stop counting as subscribed."""
    status = {"hard_bounce": "bounced", "soft_bounce_limit": "bounced", "complaint": "complained"}.get(
        reason, "unsubscribed"
    )
    column = "email" if channel == CHANNEL_EMAIL else "phone"
    db.session.flush()
    db.session.execute(
        text(
            f"UPDATE subscription SET status = :st WHERE client_id = :cid AND channel = :ch AND status = 'subscribed' "
            f"AND contact_id IN (SELECT id FROM contact WHERE client_id = :cid AND {column} = :a)"
        ),
        {"st": status, "cid": client.id, "ch": channel, "a": address},
    )
    refresh_list_counts(client)


def refresh_list_counts(client: Client) -> None:
    db.session.execute(
        text(
            "UPDATE mailing_list SET subscribed_count = (SELECT count(*) FROM subscription s WHERE "
            "s.list_id = mailing_list.id AND s.status = 'subscribed') WHERE client_id = :cid"
        ),
        {"cid": client.id},
    )


def get_entry(entry_id: int) -> Suppression:
    entry = db.session.scalar(select(Suppression).where(Suppression.id == entry_id))
    if entry is None:
        raise NotFound("suppression")
    return entry


def remove(*, actor: User, entry: Suppression, reason_text: str = "") -> None:
    """Hard bounces and complaints protect sender reputation: only agency staff may lift them, with a reason."""
    if entry.reason in PROTECTED_REASONS:
        if not actor.is_agency_staff:
            raise DomainError("Only your agency can remove a hard bounce or a complaint.")
        if not reason_text.strip():
            raise DomainError("Say why this entry is removed.")
    record(
        "suppression.removed",
        actor=actor,
        agency_id=entry.agency_id,
        client_id=entry.client_id,
        target=entry.address,
        reason=entry.reason,
        why=reason_text.strip(),
    )
    db.session.delete(entry)


def add_blocked(
    *, actor: User, agency_id: int | None, channel: str, address: str, reason: str, note: str = ""
) -> None:
    """Agency-wide (agency_id) or platform-wide (None) entries that apply to every client below."""
    if channel not in (CHANNEL_EMAIL, CHANNEL_SMS):
        raise DomainError("unknown channel")
    try:
        address = normalise_email(address) if channel == CHANNEL_EMAIL else normalise_phone(address, "IT")
    except InvalidAddress as exc:
        raise DomainError(str(exc)) from exc
    with all_tenants():
        db.session.add(
            BlockedAddress(agency_id=agency_id, channel=channel, address=address, reason=reason, note=note)
        )
        record("suppression.blocked", actor=actor, agency_id=agency_id, target=address, reason=reason)
        db.session.flush()
