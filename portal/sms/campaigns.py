"""SMS campaigns as the client edits and reads them: create, save, test send, cancel, report figures."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, select

from ..backends.base import BackendError
from ..extensions import db
from ..imports.addresses import InvalidAddress, normalise_phone
from ..models import Campaign, Client, Delivery, Event, SmsSenderId, User
from ..models.campaign import EDITABLE
from ..models.sms import SENDER_APPROVED
from ..sending import control
from ..sending.backend import new_backend, refusal
from ..sending.email_content import MessageError
from ..sending.sms_content import SmsTextError, compose_sms, parse_text, sms_content
from ..services import DomainError, NotFound
from ..services.audit import record
from ..services.connections import resolve_connection
from ..services.i18n_safe import _
from .scheduling import give_back_schedule
from .segments import count
from .settle import after_batches


def sms_campaigns() -> list[Campaign]:
    return list(
        db.session.scalars(
            select(Campaign).where(Campaign.channel == "sms").order_by(Campaign.id.desc()).limit(200)
        )
    )


def get_sms_campaign(campaign_id: int) -> Campaign:
    campaign = db.session.scalar(
        select(Campaign).where(Campaign.id == campaign_id, Campaign.channel == "sms")
    )
    if campaign is None:
        raise NotFound("campaign")
    return campaign


def approved_senders(client_id: int) -> list[SmsSenderId]:
    return list(
        db.session.scalars(
            select(SmsSenderId)
            .where(SmsSenderId.client_id == client_id, SmsSenderId.status == SENDER_APPROVED)
            .order_by(SmsSenderId.value)
        )
    )


def create_sms_campaign(*, actor: User | None, client: Client, name: str) -> Campaign:
    name = (name or "").strip()
    if not name:
        raise DomainError(_("A campaign needs a name."))
    senders = approved_senders(client.id)
    campaign = Campaign(
        agency_id=client.agency_id,
        client_id=client.id,
        channel="sms",
        name=name[:200],
        audience={"lists": [], "segments": [], "exclude_lists": [], "exclude_segments": []},
        sms_sender_id=senders[0].id if len(senders) == 1 else None,
        created_by_id=actor.id if actor is not None else None,
    )
    db.session.add(campaign)
    db.session.flush()
    record("campaign.created", actor=actor, agency_id=client.agency_id, client_id=client.id, target=name)
    return campaign


def save_sms_campaign(
    *, actor: User | None, campaign: Campaign, name: str, sender_id: int | None, text: str, lists, segments
) -> None:
    if campaign.status not in EDITABLE:
        raise DomainError(_("Only a draft can be changed."))
    try:
        parse_text(text)
    except SmsTextError as exc:
        raise DomainError(str(exc)) from exc
    if sender_id is not None and sender_id not in {s.id for s in approved_senders(campaign.client_id)}:
        raise DomainError(_("Choose a sender id your agency approved."))
    campaign.name = (name or "").strip()[:200] or campaign.name
    campaign.sms_sender_id = sender_id
    campaign.text = text or ""
    campaign.audience = {
        "lists": [int(x) for x in lists or []],
        "segments": [int(x) for x in segments or []],
        "exclude_lists": [],
        "exclude_segments": [],
    }
    db.session.flush()


def test_send(*, actor: User | None, client: Client, campaign: Campaign, raw_number: str) -> str:
    """One copy to one number, through the campaign's connection, with the sample values of a contact
    that does not exist (merge fields stay empty). Costs nothing from the ledger: it is the agency's."""
    try:
        number = normalise_phone(raw_number, client.default_region or "")
    except InvalidAddress as exc:
        raise DomainError(_("Phone number: %(problem)s.", problem=str(exc))) from exc
    if not (campaign.text or "").strip():
        raise DomainError(_("Write the text first."))
    content = sms_content(campaign)
    if not content.sender:
        raise DomainError(_("Choose a sender id your agency approved first."))
    connection = resolve_connection(client, "sms")
    problem = refusal(connection, "sms")
    if connection is None or problem:
        raise DomainError(problem or _("This account has no SMS delivery connection. Ask your agency."))
    try:
        message = compose_sms(content, 0, number, {"phone": number})
    except MessageError as exc:
        raise DomainError(str(exc)) from exc
    backend = new_backend(connection.id)
    try:
        backend.send(message)
    except BackendError as exc:
        raise DomainError(_("The test SMS was not sent: %(detail)s.", detail=exc.detail)) from exc
    finally:
        backend.close()
    record(
        "campaign.test_sent",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=campaign.name,
    )
    return number


def cancel_sms(*, actor: User, campaign: Campaign) -> None:
    """Cancel, then give back the credits of every message that will not go (committed here: the
    settlement is its own step, like a worker's)."""
    started = campaign.started_at is not None
    control.cancel(actor=actor, campaign=campaign)
    if not started:  # a scheduled campaign holds its reservation in the ledger only
        give_back_schedule(campaign)
    db.session.flush()
    after_batches(campaign.id)


def report_figures(campaign: Campaign) -> dict:
    rows = dict(
        db.session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.campaign_id == campaign.id)
            .group_by(Delivery.status)
        ).all()
    )
    delivered = db.session.scalar(
        select(func.count())
        .select_from(Event)
        .where(Event.campaign_id == campaign.id, Event.kind == "delivered")
    )
    segments, consumed, reserved = db.session.execute(
        select(
            func.coalesce(func.sum(Delivery.segments), 0),
            func.coalesce(func.sum(Delivery.credits).filter(Delivery.credit_state == "consumed"), 0),
            func.coalesce(func.sum(Delivery.credits).filter(Delivery.credit_state == "reserved"), 0),
        ).where(Delivery.campaign_id == campaign.id, Delivery.status != "skipped")
    ).one()
    return {
        "recipients": sum(rows.values()),
        "sent": rows.get("sent", 0),
        "failed": rows.get("failed", 0),
        "skipped": rows.get("skipped", 0),
        "pending": rows.get("pending", 0) + rows.get("claimed", 0),
        "delivered": delivered,
        "segments": int(segments),
        "credits_used": int(consumed),
        "credits_reserved": int(reserved),
    }


def recipient_rows(campaign: Campaign, limit: int = 500) -> list[Delivery]:
    return list(
        db.session.scalars(
            select(Delivery).where(Delivery.campaign_id == campaign.id).order_by(Delivery.id).limit(limit)
        )
    )


def recipient_export(campaign: Campaign, batch: int = 1000) -> Iterator[list[Delivery]]:
    last = 0
    while True:
        rows = list(
            db.session.scalars(
                select(Delivery)
                .where(Delivery.campaign_id == campaign.id, Delivery.id > last)
                .order_by(Delivery.id)
                .limit(batch)
            )
        )
        if not rows:
            return
        yield rows
        last = rows[-1].id


def count_with_cost(text: str, credits_per_segment: int) -> dict:
    result = count(text).as_dict()
    result["credits"] = result["segments"] * credits_per_segment
    return result
