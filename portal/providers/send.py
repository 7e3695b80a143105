"""The provider-side send job (DESIGN.md §6): the same start, audience, consent rule and suppression as the
per-message path — `sending.control.start_send` materialised the Delivery rows — then the provider's
resumable steps (backends/mailup/campaign.py): push the audience into a group of its own, create the
message, send it to the group.

Exactly once: each step's result and provider ids are merged into Campaign.provider_state and COMMITTED
before the next provider call, so a worker killed anywhere resumes where the record stops, without a
second group, message or send. One worker at a time: the job claims `provider_lease_until` with a
conditional update and renews it at every record; the sweeper queues a new job only for a sending
campaign whose lease ran out (nobody works on it).

Consent is checked again right before each batch is handed over (rows suppressed or unsubscribed
since the start end 'skipped'). Once the provider accepted the send, the deliveries it took are marked
sent and the campaign is sent; addresses it reported invalid or unprocessed fail with a reason.
A provider outage never counts as the recipients' fault: the campaign waits (backoff, the sweeper
retries) and pauses with a readable reason after repeated failures; content the provider cannot
personalise pauses it at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update

from ..backends.base import AudienceMember, BackendError, BackendUnavailable
from ..backends.mailup import MailupRequestRefused
from ..backends.mailup.campaign import MailupCampaign
from ..crypto import SecretError
from ..extensions import db
from ..jobs import QUEUE_SYNC
from ..jobs.queueing import PendingJob, enqueue_after_commit
from ..keys.unreadable import SEND_REASON, record_unreadable
from ..links import agency_base_url
from ..mail import tokens
from ..models import (
    Agency,
    Campaign,
    Client,
    Connection,
    Contact,
    Delivery,
    Field,
    ProviderBinding,
    SenderIdentity,
)
from ..models.campaign import (
    CAMPAIGN_CANCELLED,
    CAMPAIGN_PAUSED,
    CAMPAIGN_SENDING,
    CAMPAIGN_SENT,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SENT,
    DELIVERY_SKIPPED,
)
from ..sending.audience import consent_lists, still_allowed
from ..services.audit import record as audit
from ..tenancy import all_tenants
from .binding import ensure_binding, refresh_fields
from .connection import provider_client
from .translate import UntranslatableContent, translate

# What sending/control.py writes on the rows a cancel skips (the same literal in the sweeper and outcomes).
CANCELLED_ERROR = "campaign cancelled"
TOO_LATE = (
    "The delivery service had already accepted this campaign when it was stopped, so it went out to "
    "its whole audience."
)
LEASE = timedelta(minutes=10)  # longer than any one provider call with its retries, and an import poll
CHUNK = 5000
BREAKER_LIMIT = 4
RETRY_BASE_S = 60


def queue_provider_send(campaign: Campaign, generation: str) -> None:
    enqueue_after_commit(
        db.session,
        PendingJob(
            name="providers.send",
            queue=QUEUE_SYNC,
            job_id=f"provider-send-{campaign.id}-{generation}",
            agency_id=campaign.agency_id,
            client_id=campaign.client_id,
            kwargs={"campaign_id": campaign.id},
            timeout=6 * 3600,
            retries=0,  # the sweeper requeues it (after its backoff), never RQ blindly
        ),
    )


def lease_held(campaign: Campaign, now: datetime | None = None) -> bool:
    until = campaign.provider_lease_until
    return until is not None and until > (now or datetime.now(UTC))


def _claim(campaign_id: int) -> bool:
    now = datetime.now(UTC)
    won = db.session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.status == CAMPAIGN_SENDING,
            or_(Campaign.provider_lease_until.is_(None), Campaign.provider_lease_until < now),
        )
        .values(provider_lease_until=now + LEASE)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(won)


def _release(campaign_id: int) -> None:
    db.session.rollback()
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(provider_lease_until=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


class Stopped(Exception):
    """The campaign was paused or cancelled meanwhile: stop before the next provider call."""


def run_send(campaign_id: int) -> str:
    if not _claim(campaign_id):
        return "busy-or-done"
    try:
        return _send(campaign_id)
    except Stopped:
        return "stopped"
    except BackendUnavailable as exc:
        _backoff(campaign_id, exc.detail)
        return "waiting"
    except (MailupRequestRefused, UntranslatableContent) as exc:
        _pause(campaign_id, f"Sending paused: {exc}. Fix it and resume the campaign.")
        return "paused"
    except BackendError as exc:  # an answer that could not be read: like an outage, wait and retry
        _backoff(campaign_id, exc.detail)
        return "waiting"
    except SecretError:  # credentials no configured key can read: retrying cannot help (portal/keys)
        _pause(campaign_id, SEND_REASON.format(what="delivery credentials"))
        record_unreadable(what="delivery credentials", target=f"campaign {campaign_id}", agency_id=None)
        db.session.commit()
        return "paused"
    finally:
        _release(campaign_id)


def _campaign(campaign_id: int) -> Campaign:
    return db.session.scalar(select(Campaign).where(Campaign.id == campaign_id))


def _send(campaign_id: int) -> str:
    campaign = _campaign(campaign_id)
    client = db.session.scalar(select(Client).where(Client.id == campaign.client_id))
    connection = db.session.scalar(select(Connection).where(Connection.id == campaign.connection_id))
    if connection is None:
        _pause(
            campaign_id,
            "Sending paused: the delivery connection of this campaign was removed. Ask your agency.",
        )
        return "paused"
    binding = ensure_binding(client, connection)
    refresh_fields(binding, client)
    db.session.commit()  # the binding is recorded before anything is pushed into its list

    def record(updates: dict) -> None:
        fresh = _campaign(campaign_id)
        # The provider's acceptance of the send is recorded whatever happened meanwhile: a cancel or a
        # pause that came while the send was on its way cannot unsend it, and the portal must know.
        if fresh.status != CAMPAIGN_SENDING and not updates.get("sending_id"):
            raise Stopped()
        fresh.provider_state = {**(fresh.provider_state or {}), **updates}
        fresh.provider_lease_until = datetime.now(UTC) + LEASE
        db.session.commit()

    state = dict(campaign.provider_state or {})
    if not state.get("ref"):
        state["ref"] = (
            f"c{campaign.id}-{secrets.token_hex(4)}"  # the group's unique name, the message's notes
        )
        record({"ref": state["ref"], "list_id": binding.list_id})
    # An import poll gives up well before the lease runs out (the job then waits and resumes polling).
    backend = MailupCampaign(
        provider_client(connection), binding.list_id, record=record, import_wait_s=LEASE.total_seconds() / 3
    )
    content = translate(campaign, binding)  # before anything is pushed: refused content pushes nothing
    pending = db.session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.campaign_id == campaign_id, Delivery.status == DELIVERY_PENDING)
    )
    state = backend.sync_audience(state, _members(campaign, binding, state), total=pending)
    state = backend.create_message(state, subject=content.subject, html=content.html, text=content.text)
    state = backend.send(state, sender=_sender(campaign))
    _mark_sent(campaign_id, state)
    return "sent"


def _members(campaign: Campaign, binding: ProviderBinding, state: dict) -> Iterator[AudienceMember]:
    """The pending deliveries after the last pushed one, in id order, chunk by chunk, each chunk checked
    against consent and suppression again right before it is handed over."""
    after = int(state.get("pushed_through") or 0)
    fields = (binding.field_map or {}).get("fields") or {}
    links = (binding.field_map or {}).get("links") or {}
    number_key = dict(
        db.session.execute(select(Field.number, Field.key).where(Field.client_id == campaign.client_id)).all()
    )
    with all_tenants():
        agency = db.session.get(Agency, campaign.agency_id)
    base = agency_base_url(agency)
    lists = consent_lists(campaign.audience or {})
    while True:
        rows = db.session.execute(
            select(Delivery.id, Delivery.contact_id, Delivery.address)
            .where(
                Delivery.campaign_id == campaign.id,
                Delivery.status == DELIVERY_PENDING,
                Delivery.id > after,
            )
            .order_by(Delivery.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        after = rows[-1][0]
        allowed = still_allowed(campaign.client_id, campaign.agency_id, "email", lists, rows)
        gone = [r[0] for r in rows if r[0] not in allowed]
        if gone:
            db.session.execute(
                update(Delivery)
                .where(Delivery.id.in_(gone), Delivery.status == DELIVERY_PENDING)
                .values(status=DELIVERY_SKIPPED, error="unsubscribed or suppressed before sending")
                .execution_options(synchronize_session=False)
            )
            db.session.commit()
        values = dict(
            db.session.execute(
                select(Contact.id, Contact.fields).where(
                    Contact.client_id == campaign.client_id, Contact.id.in_([r[1] for r in rows])
                )
            ).all()
        )
        for delivery_id, contact_id, address in rows:
            if delivery_id not in allowed:
                continue
            own = values.get(contact_id) or {}
            personal = {}
            for number, entry in fields.items():
                key = number_key.get(int(number))
                if key and own.get(key) not in (None, ""):
                    personal[entry["id"]] = str(own[key])[:200]
            personal[links["unsubscribe_url"]["id"]] = f"{base}/u/{tokens.make('unsubscribe', delivery_id)}"
            personal[links["preferences_url"]["id"]] = f"{base}/p/{tokens.make('preferences', delivery_id)}"
            personal[links["view_url"]["id"]] = f"{base}/v/{tokens.make('view', delivery_id)}"
            yield AudienceMember(delivery_id, address, personal)


def _sender(campaign: Campaign) -> tuple[str, str] | None:
    """The campaign's sender identity (name, address), which the provider takes from the list."""
    identity = db.session.scalar(select(SenderIdentity).where(SenderIdentity.id == campaign.sender_id))
    return (identity.name, identity.email) if identity is not None else None


def _mark_sent(campaign_id: int, state: dict) -> None:
    """The provider accepted the send: its deliveries are sent, the ones it refused failed, and the
    campaign is sent.

    A cancel (or a pause) that arrived while the send was on its way came too late: the provider
    already had the whole group, so the rows the cancel skipped went out too and are marked sent, and
    the campaign is sent with a message saying why — never "cancelled" for mail that left."""
    now = datetime.now(UTC)
    refused = sorted({a.lower() for a in (state.get("invalid") or []) + (state.get("unprocessed") or [])})
    answer = f"{state.get('message_id')}/{state.get('sending_id')}"
    late = _campaign(campaign_id).status in (CAMPAIGN_CANCELLED, CAMPAIGN_PAUSED)
    carried = Delivery.status == DELIVERY_PENDING
    if late:
        carried = or_(carried, (Delivery.status == DELIVERY_SKIPPED) & (Delivery.error == CANCELLED_ERROR))
    base = update(Delivery).where(Delivery.campaign_id == campaign_id, carried)
    if refused:
        db.session.execute(
            base.where(func.lower(Delivery.address).in_(refused))
            .values(status=DELIVERY_FAILED, error="not accepted by the delivery service")
            .execution_options(synchronize_session=False)
        )
    db.session.execute(
        base.values(
            status=DELIVERY_SENT, sent_at=now, provider_message_id=answer, error=""
        ).execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.status.in_((CAMPAIGN_SENDING, CAMPAIGN_CANCELLED, CAMPAIGN_PAUSED)),
        )
        .values(
            status=CAMPAIGN_SENT,
            finished_at=now,
            backend_failures=0,
            retry_at=None,
            message=TOO_LATE if late else "",
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _backoff(campaign_id: int, detail: str) -> None:
    """The provider failed as a whole: wait (doubling), and pause after BREAKER_LIMIT failures in a row."""
    db.session.rollback()
    campaign = _campaign(campaign_id)
    failures = (campaign.backend_failures or 0) + 1
    campaign.backend_failures = failures
    campaign.retry_at = datetime.now(UTC) + timedelta(seconds=RETRY_BASE_S * 2 ** (failures - 1))
    db.session.commit()
    current_app.logger.warning("campaign %s: provider failure %s: %s", campaign_id, failures, detail)
    if failures >= BREAKER_LIMIT and campaign.status == CAMPAIGN_SENDING:
        _pause(
            campaign_id,
            f"Sending paused after {failures} failed attempts to reach the delivery service (last: {detail}). "
            "Nothing was lost: resume the campaign once the problem is solved.",
        )


def _pause(campaign_id: int, reason: str) -> None:
    db.session.rollback()
    moved = db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == CAMPAIGN_SENDING)
        .values(status=CAMPAIGN_PAUSED, message=reason)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved:
        campaign = _campaign(campaign_id)
        audit(
            "campaign.paused",
            actor=None,
            agency_id=campaign.agency_id,
            client_id=campaign.client_id,
            target=campaign.name,
            reason=reason,
        )
    db.session.commit()


def send_tests(campaign: Campaign, connection: Connection, addresses: list[str], values: dict) -> int:
    """Test copies through the provider's single-recipient send: a message of their own ("[Test] "
    subject, so the campaign's statistics stay its own), each address with the sample values."""
    client = db.session.scalar(select(Client).where(Client.id == campaign.client_id))
    binding = ensure_binding(client, connection)
    refresh_fields(binding, client)
    db.session.commit()
    content = translate(campaign, binding)
    backend = MailupCampaign(provider_client(connection), binding.list_id)
    state = backend.create_message(
        {"ref": f"c{campaign.id}-test-{secrets.token_hex(4)}"},
        subject="[Test] " + content.subject,
        html=content.html,
        text=content.text,
    )
    number_key = dict(
        db.session.execute(select(Field.number, Field.key).where(Field.client_id == campaign.client_id)).all()
    )
    personal = {
        entry["id"]: str(values.get(number_key.get(int(number)), ""))[:200]
        for number, entry in ((binding.field_map or {}).get("fields") or {}).items()
        if values.get(number_key.get(int(number))) not in (None, "")
    }
    sender = _sender(campaign)
    if sender is not None:
        backend.set_sender(*sender)
    for address in addresses:
        backend.send_test(state, address, personal)
    return len(addresses)
