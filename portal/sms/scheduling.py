"""Scheduling an SMS campaign: the credits its audience would cost now are reserved at once (so a
scheduled send cannot find the balance spent by then); at its time the sweeper starts it, which gives
that reservation back and reserves the exact count of the texts as they are then. Unscheduling and
cancelling give it back. What a campaign holds before it starts is read from the ledger itself (its
reservations minus what was settled), so nothing else has to remember it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import case, func, select

from ..extensions import db
from ..models import Campaign, Client, CreditEntry, User
from ..models.campaign import CAMPAIGN_DRAFT, CAMPAIGN_FAILED, CAMPAIGN_SCHEDULED
from ..models.sms import ENTRY_CONSUME, ENTRY_RELEASE, ENTRY_RESERVE
from ..services import DomainError
from ..services.audit import record
from ..services.campaigns import local_to_utc
from ..services.i18n_safe import _
from . import credits
from .sending import estimate, ready_to_send, start_sms_send


def held_before_start(campaign: Campaign) -> int:
    """Credits the ledger still holds for this campaign (reserved minus consumed and released)."""
    held = db.session.scalar(
        select(
            func.coalesce(
                func.sum(
                    case(
                        (CreditEntry.kind == ENTRY_RESERVE, CreditEntry.amount),
                        (CreditEntry.kind.in_((ENTRY_CONSUME, ENTRY_RELEASE)), -CreditEntry.amount),
                        else_=0,
                    )
                ),
                0,
            )
        ).where(CreditEntry.client_id == campaign.client_id, CreditEntry.campaign_id == campaign.id)
    )
    return int(held or 0)


def give_back_schedule(campaign: Campaign) -> int:
    held = held_before_start(campaign)
    if held > 0:
        credits.settle(
            agency_id=campaign.agency_id,
            client_id=campaign.client_id,
            campaign_id=campaign.id,
            consumed=0,
            released=held,
        )
    return held


def schedule_sms(*, actor: User | None, client: Client, campaign: Campaign, local: datetime) -> datetime:
    """draft → scheduled at `local` (the client's wall clock), its estimated credits reserved."""
    when = local_to_utc(client, local)
    if campaign.status != CAMPAIGN_DRAFT:
        raise DomainError(_("Only a draft can be scheduled."))
    if when <= datetime.now(UTC):
        raise DomainError(_("Choose a time in the future."))
    ready_to_send(client, campaign)
    cost = estimate(client, campaign, sample=None)
    if cost.recipients == 0:
        raise DomainError(
            _("Nobody in this audience can receive SMS (no number, unsubscribed or suppressed).")
        )
    credits.reserve(
        agency_id=client.agency_id, client_id=client.id, amount=cost.credits, campaign_id=campaign.id
    )
    campaign.status, campaign.scheduled_at = CAMPAIGN_SCHEDULED, when
    db.session.flush()
    record(
        "campaign.scheduled",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=campaign.name,
        at=when.isoformat(),
    )
    return when


def unschedule_sms(*, actor: User | None, campaign: Campaign) -> None:
    if campaign.status != CAMPAIGN_SCHEDULED:
        raise DomainError(_("This campaign is not scheduled."))
    give_back_schedule(campaign)
    campaign.status, campaign.scheduled_at = CAMPAIGN_DRAFT, None
    db.session.flush()
    record(
        "campaign.unscheduled",
        actor=actor,
        agency_id=campaign.agency_id,
        client_id=campaign.client_id,
        target=campaign.name,
    )


def start_due_sms(campaign: Campaign, client: Client) -> str:
    """The sweeper's start of a scheduled SMS campaign (its tenant bound); commits. A start that fails
    (credits spent, audience gone) fails the campaign with the reason and gives the reservation back."""
    try:
        give_back_schedule(campaign)
        start_sms_send(actor=None, client=client, campaign=campaign)
        db.session.commit()
        return "started"
    except DomainError as exc:
        db.session.rollback()
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign.id))
        give_back_schedule(campaign)
        campaign.status, campaign.message = CAMPAIGN_FAILED, str(exc)
        db.session.commit()
        return ""
