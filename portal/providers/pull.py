"""The pull-back (DESIGN.md §6): what the provider learned comes back into the portal's Event rows and
suppression list, idempotently and set-based, so the portal stays the system of record.

`pull_all` (periodic, every 10 minutes) queues one `pull_connection` job per provider-side connection;
that job walks the connection's bindings, and for each bound client:
- every campaign it sent through the connection in the last PULL_DAYS (well inside the provider's
  15-day retention of per-message lists, §12): deliveries, opens, clicks (with the URL, matched to the
  campaign's link numbers), bounces and unsubscriptions, from the cursor stored in the campaign's
  provider_state; rows map to Deliveries by address within the campaign and go through
  `events.record_pulled` (source "email-api"); only events recorded for the first time have effects:
  a hard bounce or an unsubscription suppresses the address for the client (set-based);
- the list's opt-outs: complaints (they surface only there, §19) become complaint events and
  suppression, then the client's complaint rate is checked; unsubscribes and bounces caused by the
  client's own messages are suppressed as such; opt-outs caused by another list's message — in a shared
  account a hard bounce unsubscribes the address from every list (§18, §19) — are recorded as what
  they are: the address cannot be reached through the shared account ("invalid", source
  "shared-account"), never as this client's bounce or complaint, and with no event for its campaigns.
A second pull records nothing new and suppresses nothing again. Every campaign commits on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from itertools import islice

from flask import current_app
from sqlalchemy import func, select

from ..backends.base import BackendError, PulledEvent
from ..backends.mailup.campaign import MailupCampaign, parse_sent_at
from ..extensions import db
from ..jobs import QUEUE_SYNC
from ..jobs.queueing import PendingJob, enqueue_now, redis_connection
from ..models import Campaign, Client, Connection, Delivery, ProviderBinding
from ..models.connection import KIND_MAILUP
from ..services import events
from ..services.reputation import check_client
from ..tenancy import all_tenants, bind_tenant
from .connection import provider_client
from .suppress import suppress_many

SOURCE = "email-api"
PULL_DAYS = 14
PAGE = 1000
EVERY_S = 600
# An opt-out "because of bounces" of our own list: a hard bounce was suppressed from the statistics
# before the opt-outs are read (that entry stays), so one left over is the provider's soft-bounce limit.
SUPPRESS = {
    "unsubscribe": "unsubscribe",
    "complaint": "complaint",
    "bounce": "soft_bounce_limit",
    "admin": "unsubscribe",
}


def pull_all() -> list[int]:
    """Queue one pull per provider-side connection (deterministic ids: one per connection and window)."""
    window = int(datetime.now(UTC).timestamp()) // EVERY_S
    with all_tenants():
        connections = list(
            db.session.execute(
                select(Connection.id, Connection.agency_id).where(Connection.kind == KIND_MAILUP)
            )
        )
    for connection_id, agency_id in connections:
        enqueue_now(
            PendingJob(
                name="providers.pull",
                queue=QUEUE_SYNC,
                job_id=f"provider-pull-{connection_id}-{window}",
                agency_id=agency_id,
                kwargs={"connection_id": connection_id},
                timeout=EVERY_S * 3,
                retries=0,
            ),
            redis_connection(),
        )
    return [c for c, _ in connections]


def pull_connection(connection_id: int) -> dict:
    connection = db.session.scalar(select(Connection).where(Connection.id == connection_id))
    if connection is None:
        return {}
    bindings = list(
        db.session.execute(
            select(ProviderBinding.id, ProviderBinding.agency_id, ProviderBinding.client_id).where(
                ProviderBinding.connection_id == connection_id
            )
        )
    )
    report = {"events": 0, "suppressed": 0}
    for binding_id, agency_id, client_id in bindings:
        with bind_tenant(agency_id, client_id):
            for key, n in pull_binding(binding_id).items():
                report[key] = report.get(key, 0) + n
    return report


def pull_binding(binding_id: int) -> dict:
    """One client's pull; a provider failure is kept on the binding (for the operator) and the next
    window tries again."""
    binding = db.session.scalar(select(ProviderBinding).where(ProviderBinding.id == binding_id))
    client = db.session.scalar(select(Client).where(Client.id == binding.client_id))
    connection = db.session.scalar(select(Connection).where(Connection.id == binding.connection_id))
    backend = MailupCampaign(provider_client(connection), binding.list_id)
    report = {"events": 0, "suppressed": 0}
    try:
        campaigns = _recent(binding)
        for campaign_id in campaigns.values():
            report["events"] += _pull_campaign(client, backend, campaign_id)
            db.session.commit()
        own_messages = {m.id for m in backend.client.messages(binding.list_id)}
        report["suppressed"] += _optouts(client, backend, campaigns, own_messages)
        binding = db.session.scalar(select(ProviderBinding).where(ProviderBinding.id == binding_id))
        binding.last_pull_at, binding.last_error = datetime.now(UTC), ""
        db.session.commit()
    except BackendError as exc:
        db.session.rollback()
        current_app.logger.warning("provider pull of binding %s failed: %s", binding_id, exc.detail)
        binding = db.session.scalar(select(ProviderBinding).where(ProviderBinding.id == binding_id))
        binding.last_error = exc.detail[:2000]
        db.session.commit()
    return report


def _recent(binding: ProviderBinding) -> dict[int, int]:
    """message id → campaign id, for the campaigns sent through this binding's list lately."""
    since = datetime.now(UTC) - timedelta(days=PULL_DAYS)
    out = {}
    rows = db.session.execute(
        select(Campaign.id, Campaign.provider_state).where(
            Campaign.client_id == binding.client_id,
            Campaign.connection_id == binding.connection_id,
            Campaign.status.in_(("sent", "sending", "paused", "cancelled")),
        )
    )
    for campaign_id, state in rows:
        state = state or {}
        sent_at = parse_sent_at(state.get("sent_at"))
        if (
            state.get("message_id")
            and state.get("list_id") == binding.list_id
            and sent_at
            and sent_at >= since
        ):
            out[int(state["message_id"])] = campaign_id
    return out


def _chunks(items: Iterable, size: int):
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def _pull_campaign(client: Client, backend: MailupCampaign, campaign_id: int) -> int:
    campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id))
    state = dict(campaign.provider_state or {})
    pulled, cursor = backend.pull_events(state, state.get("pull_cursor") or {})
    links = {url: i for i, url in enumerate(campaign.links or [])}
    recorded = 0
    for chunk in _chunks(pulled, PAGE):
        recorded += _record(client, campaign, chunk, links)
    campaign.provider_state = {**(campaign.provider_state or {}), "pull_cursor": cursor}
    return recorded


def _deliveries(campaign: Campaign, addresses: Iterable[str]) -> dict[str, tuple[int, int]]:
    wanted = sorted({a.lower() for a in addresses if a})
    if not wanted:
        return {}
    rows = db.session.execute(
        select(func.lower(Delivery.address), Delivery.id, Delivery.contact_id).where(
            Delivery.campaign_id == campaign.id, func.lower(Delivery.address).in_(wanted)
        )
    )
    return {address: (delivery_id, contact_id) for address, delivery_id, contact_id in rows}


def _record(client: Client, campaign: Campaign, chunk: list[PulledEvent], links: dict[str, int]) -> int:
    found = _deliveries(campaign, (e.address for e in chunk))
    rows = []
    for e in chunk:
        match = found.get(e.address.lower())
        if match is None:
            continue  # not one of this campaign's recipients (a test copy, another list's address)
        rows.append(
            {
                "provider_event_id": e.provider_event_id,
                "kind": e.kind,
                "delivery_id": match[0],
                "contact_id": match[1],
                "campaign_id": campaign.id,
                "bounce_class": e.bounce_class,
                "status_code": e.status_code,
                "detail": e.detail,
                "link_index": links.get(e.detail) if e.kind == "click" else None,
                "created_at": e.occurred_at,
            }
        )
    new = events.record_pulled(client, SOURCE, rows)
    address_of = {match[0]: address for address, match in found.items()}
    entries = []
    for row in new:
        if row["kind"] == "bounce" and row["bounce_class"] == "hard":
            entries.append((address_of[row["delivery_id"]], "hard_bounce", "bounce", ""))
        elif row["kind"] == "unsubscribe":
            entries.append((address_of[row["delivery_id"]], "unsubscribe", SOURCE, ""))
    suppress_many(client, entries)
    return len(new)


def _optouts(client: Client, backend: MailupCampaign, campaigns: dict[int, int], own: set[int]) -> int:
    entries, complaints = [], []
    for o in backend.list_optouts():
        if o.message_id is not None and o.message_id not in own:
            note = "unsubscribed on the delivery service because of a message of another list of the shared account"
            reason = "invalid" if o.kind == "bounce" else "unsubscribe"
            entries.append((o.address, reason, "shared-account", note))
            continue
        entries.append((o.address, SUPPRESS[o.kind], SOURCE if o.kind != "bounce" else "bounce", ""))
        if o.kind == "complaint" and o.message_id in campaigns:
            complaints.append((campaigns[o.message_id], o))
    new_complaints = 0
    by_campaign: dict[int, list] = {}
    for campaign_id, o in complaints:
        by_campaign.setdefault(campaign_id, []).append(o)
    for campaign_id, items in by_campaign.items():
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id))
        found = _deliveries(campaign, (o.address for o in items))
        rows = [
            {
                "provider_event_id": f"{o.message_id}:complaint:{o.address.lower()}",
                "kind": "complaint",
                "delivery_id": found[o.address.lower()][0],
                "contact_id": found[o.address.lower()][1],
                "campaign_id": campaign_id,
                "detail": "abuse",
                "created_at": o.occurred_at or datetime.now(UTC),
            }
            for o in items
            if o.address.lower() in found
        ]
        new_complaints += len(events.record_pulled(client, SOURCE, rows))
    added = suppress_many(client, entries)
    if new_complaints:
        check_client(client)
    db.session.commit()
    return len(added)
