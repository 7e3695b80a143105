"""Starting, pausing, resuming and cancelling a send. Services: flush, never commit; jobs leave after commit."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select, update

from ..extensions import db
from ..jobs import QUEUE_SENDS
from ..jobs.queueing import PendingJob, enqueue_after_commit
from ..models import Agency, Campaign, Client, Connection, Delivery, SenderDomain, SenderIdentity, User
from ..models.campaign import (
    CAMPAIGN_CANCELLED,
    CAMPAIGN_DRAFT,
    CAMPAIGN_PAUSED,
    CAMPAIGN_SCHEDULED,
    CAMPAIGN_SENDING,
    DELIVERY_PENDING,
    DELIVERY_SKIPPED,
)
from ..providers import translate
from ..providers.connection import is_provider_side
from ..providers.send import queue_provider_send
from ..services import DomainError
from ..services.audit import record
from ..services.connections import resolve_connection
from ..services.i18n_safe import _
from ..tenancy import all_tenants
from ..usage import emails_used_this_month  # the quota figure, the same the dashboard shows
from .audience import materialise
from .backend import refusal
from .email_content import prepare_content


def ready_to_send(campaign: Campaign) -> None:
    """Everything a send needs, checked before anything changes. Messages say what to fix."""
    problems = []
    if not campaign.subject.strip():
        problems.append("a subject")
    if not campaign.html.strip() and not campaign.text.strip():
        problems.append("some content")
    if not (campaign.audience or {}).get("lists") and not (campaign.audience or {}).get("segments"):
        problems.append("an audience (a list or a segment)")
    sender = (
        db.session.scalar(select(SenderIdentity).where(SenderIdentity.id == campaign.sender_id))
        if campaign.sender_id
        else None
    )
    if sender is None:
        problems.append("a sender")
    else:
        domain = db.session.scalar(select(SenderDomain).where(SenderDomain.id == sender.domain_id))
        if domain is None or domain.verified_at is None:
            raise DomainError(
                f"The sender domain of {sender.email} is not verified yet: publish its DNS records "
                "and check them on the Senders page."
            )
    if problems:
        raise DomainError("Before sending, the campaign needs " + ", ".join(problems) + ".")
    _check_connection(campaign.client_id, campaign.channel or "email")
    _check_provider_content(campaign)


def _check_connection(client_id: int, channel: str) -> None:
    """Refuse at the start, not in the worker, a connection that cannot carry this channel. The message
    never names the provider (white label)."""
    client = db.session.scalar(select(Client).where(Client.id == client_id))
    if client is not None:
        problem = refusal(resolve_connection(client, channel), channel)
        if problem:
            raise DomainError(problem)


def _check_provider_content(campaign: Campaign) -> None:
    """A provider-side connection personalises with its own tags: refuse, at review, what it cannot."""
    client = db.session.scalar(select(Client).where(Client.id == campaign.client_id))
    channel = campaign.channel or "email"
    if client is not None and is_provider_side(resolve_connection(client, channel), channel):
        problem = translate.problem(campaign)
        if problem:
            raise DomainError(problem)


def agency_active(client: Client) -> bool:
    with all_tenants():
        agency = db.session.get(Agency, client.agency_id)
    return agency is not None and agency.is_active


def move_to_sending(client: Client, campaign: Campaign) -> Connection | None:
    """draft/scheduled → sending exactly once, on every channel, with the connection the send will use.

    The conditional UPDATE is the lock: of two concurrent requests only one sees a row change; the other
    gets a DomainError. Returns the connection bound to the campaign (None: the platform's relay)."""
    connection = resolve_connection(client, campaign.channel or "email")
    moved = db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status.in_((CAMPAIGN_DRAFT, CAMPAIGN_SCHEDULED)))
        .values(
            status=CAMPAIGN_SENDING,
            started_at=datetime.now(UTC),
            message="",
            connection_id=connection.id if connection is not None else None,
            backend_failures=0,
            retry_at=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise DomainError(_("This campaign is already being sent."))
    return connection


def start_send(*, actor: User | None, client: Client, campaign: Campaign) -> int:
    """draft/scheduled → sending exactly once, audience materialised, jobs queued after commit.

    The conditional UPDATE is the lock: of two concurrent requests only one sees a row change."""
    if not client.is_active or not agency_active(client):
        raise DomainError("This account is suspended; sending is not possible.")
    ready_to_send(campaign)
    now = datetime.now(UTC)
    move_to_sending(client, campaign)
    recipients = materialise(client, campaign)
    used = emails_used_this_month(client) - recipients
    if used + recipients > client.email_quota_month:
        left = max(client.email_quota_month - used, 0)
        raise DomainError(
            f"This campaign has {recipients:,} recipients but only {left:,} of the {client.email_quota_month:,} "
            "emails of this month are left. Ask your agency to raise the quota, or narrow the audience."
        )
    if recipients == 0:
        raise DomainError(
            "Nobody in this audience can receive email (everyone is unsubscribed or suppressed)."
        )
    # The tracked links, numbered once: click URLs carry the number, the redirect looks it up here.
    links = prepare_content(campaign).links
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(recipients=recipients, links=links)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(campaign)
    queue_send_jobs(campaign, generation=f"start{int(now.timestamp())}")
    record(
        "campaign.started",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=campaign.name,
        recipients=recipients,
    )
    return recipients


def queue_send_jobs(campaign: Campaign, generation: str) -> None:
    connection = (
        db.session.scalar(select(Connection).where(Connection.id == campaign.connection_id))
        if campaign.connection_id
        else None
    )
    if is_provider_side(connection, campaign.channel or "email"):
        queue_provider_send(campaign, generation)  # the provider sends the whole campaign itself
        return
    # Several jobs per campaign so several workers share it; extra ones simply find nothing left to claim.
    for n in range(current_app.config["PORTAL_SETTINGS"].send_jobs_per_campaign):
        enqueue_after_commit(
            db.session,
            PendingJob(
                name="sending.send_batches",
                queue=QUEUE_SENDS,
                job_id=f"send-{campaign.id}-{generation}-{n}",
                agency_id=campaign.agency_id,
                client_id=campaign.client_id,
                kwargs={"campaign_id": campaign.id},
                timeout=6 * 3600,
                retries=3,
            ),
        )


def schedule(*, actor: User, campaign: Campaign, when: datetime) -> None:
    if campaign.status not in (CAMPAIGN_DRAFT, CAMPAIGN_SCHEDULED):
        raise DomainError("Only a draft can be scheduled.")
    if when <= datetime.now(UTC):
        raise DomainError("Choose a time in the future.")
    ready_to_send(campaign)
    campaign.status, campaign.scheduled_at = CAMPAIGN_SCHEDULED, when
    record(
        "campaign.scheduled",
        actor=actor,
        agency_id=campaign.agency_id,
        client_id=campaign.client_id,
        target=campaign.name,
        at=when.isoformat(),
    )


def unschedule(*, actor: User, campaign: Campaign) -> None:
    if campaign.status != CAMPAIGN_SCHEDULED:
        raise DomainError("This campaign is not scheduled.")
    campaign.status, campaign.scheduled_at = CAMPAIGN_DRAFT, None
    record(
        "campaign.unscheduled",
        actor=actor,
        agency_id=campaign.agency_id,
        client_id=campaign.client_id,
        target=campaign.name,
    )


def pause(*, actor: User | None, campaign: Campaign, reason: str = "") -> None:
    """Workers see the status before each claim and stop; rows already handed to the relay stay sent."""
    moved = db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status == CAMPAIGN_SENDING)
        .values(status=CAMPAIGN_PAUSED, message=reason)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise DomainError("Only a campaign that is sending can be paused.")
    db.session.refresh(campaign)
    record(
        "campaign.paused",
        actor=actor,
        agency_id=campaign.agency_id,
        client_id=campaign.client_id,
        target=campaign.name,
        reason=reason,
    )


def resume(*, actor: User, campaign: Campaign) -> None:
    """Only a person resumes (reactivating a suspended account does not). A campaign paused before it
    ever started (its account was suspended at its scheduled time) starts now."""
    client = db.session.scalar(select(Client).where(Client.id == campaign.client_id))
    if client is None or not client.is_active or not agency_active(client):
        raise DomainError("This account is suspended; sending is not possible.")
    if campaign.status == CAMPAIGN_PAUSED and campaign.started_at is None:
        campaign.status = CAMPAIGN_SCHEDULED
        db.session.flush()
        start_send(actor=actor, client=client, campaign=campaign)
        return
    moved = db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status == CAMPAIGN_PAUSED)
        .values(status=CAMPAIGN_SENDING, message="", backend_failures=0, retry_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise DomainError("Only a paused campaign can be resumed.")
    db.session.refresh(campaign)
    queue_send_jobs(campaign, generation=f"resume{int(datetime.now(UTC).timestamp())}")
    record(
        "campaign.resumed",
        actor=actor,
        agency_id=campaign.agency_id,
        client_id=campaign.client_id,
        target=campaign.name,
    )


def cancel(*, actor: User, campaign: Campaign) -> None:
    if campaign.status not in (CAMPAIGN_SCHEDULED, CAMPAIGN_SENDING, CAMPAIGN_PAUSED):
        raise DomainError("Only a scheduled, sending or paused campaign can be cancelled.")
    if (campaign.provider_state or {}).get("sending_id"):
        # A provider-side send the provider accepted is on its way to the whole audience: nothing to
        # stop (the job marks it sent). A send still being handed over is cancelled; if the provider
        # turns out to have accepted it, the job records that and says so on the campaign.
        raise DomainError(
            "This campaign was already handed over for delivery and is going out to its audience; "
            "it can no longer be cancelled."
        )
    campaign.status, campaign.finished_at = CAMPAIGN_CANCELLED, datetime.now(UTC)
    db.session.execute(
        update(Delivery)
        .where(Delivery.campaign_id == campaign.id, Delivery.status == DELIVERY_PENDING)
        .values(status=DELIVERY_SKIPPED, error="campaign cancelled")
        .execution_options(synchronize_session=False)
    )
    record(
        "campaign.cancelled",
        actor=actor,
        agency_id=campaign.agency_id,
        client_id=campaign.client_id,
        target=campaign.name,
    )
