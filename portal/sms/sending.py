"""Starting an SMS campaign: checks, draft → sending exactly once, the audience materialised by the one
audience function (consent rule, E.164 numbers, SMS suppression), each recipient's own text counted at
that moment (merge fields make texts differ), the credits for all of it reserved — or nothing happens.
Then the generic delivery loop sends (sending/control.queue_send_jobs). Services flush, never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, text, update

from ..extensions import db
from ..models import Campaign, Client, Contact, Delivery, User
from ..models.audience import CHANNEL_SMS
from ..sending import control
from ..sending.audience import audience_condition, count_audience, materialise
from ..sending.backend import refusal
from ..sending.email_content import MessageError, recipient_values
from ..sending.sms_content import SmsTextError, approved_sender, parse_text, render_sms, sms_content
from ..services import DomainError
from ..services.audit import record
from ..services.connections import resolve_connection
from ..services.i18n_safe import _
from . import credits, pricing
from .segments import count

CHUNK = 500


@dataclass(frozen=True)
class Estimate:
    """What a send would cost now: recipients, segment range per recipient, total segments and credits."""

    recipients: int
    min_segments: int
    max_segments: int
    segments: int
    credits: int
    available: int


def ready_to_send(client: Client, campaign: Campaign) -> None:
    problems = []
    if not (campaign.text or "").strip():
        problems.append(_("a text"))
    audience = campaign.audience or {}
    if not audience.get("lists") and not audience.get("segments"):
        problems.append(_("an audience (a list or a segment)"))
    if not approved_sender(campaign):
        problems.append(_("a sender id approved by your agency"))
    if problems:
        raise DomainError(_("Before sending, the SMS campaign needs %(what)s.", what=", ".join(problems)))
    try:
        parse_text(campaign.text)
    except SmsTextError as exc:
        raise DomainError(str(exc)) from exc
    problem = refusal(resolve_connection(client, CHANNEL_SMS), CHANNEL_SMS)
    if problem:
        raise DomainError(problem)


def _price_rows(client: Client, campaign: Campaign, rows) -> list[dict]:
    """Segments and credits of each (delivery id, contact id, number): the recipient's own text."""
    content = sms_content(campaign)
    prices = pricing.price_list(client.agency_id)
    values = recipient_values(client.id, [r[1] for r in rows])
    out = []
    for delivery_id, contact_id, number in rows:
        try:
            segments = count(render_sms(content, values.get(contact_id, {"phone": number}))).segments
        except MessageError:
            segments = 0  # fails at hand-over with the reason; nothing to reserve for it
        out.append({"i": delivery_id, "s": segments, "k": pricing.credits_for(prices, number, segments)})
    return out


def _count_deliveries(client: Client, campaign: Campaign) -> int:
    """Segments and credits on every delivery, in chunks; returns the credits to reserve."""
    total, last = 0, 0
    while True:
        rows = db.session.execute(
            select(Delivery.id, Delivery.contact_id, Delivery.address)
            .where(Delivery.campaign_id == campaign.id, Delivery.id > last)
            .order_by(Delivery.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return total
        priced = _price_rows(client, campaign, rows)
        db.session.execute(
            text(
                "UPDATE delivery SET segments = :s, credits = :k, credit_state = 'reserved' "
                "WHERE id = :i AND client_id = :cl"
            ),
            [{**p, "cl": client.id} for p in priced],
        )
        total += sum(p["k"] for p in priced)
        last = rows[-1][0]


def start_sms_send(*, actor: User | None, client: Client, campaign: Campaign) -> int:
    """Returns the number of recipients; raises DomainError (nothing changed once rolled back)."""
    if not client.is_active or not control.agency_active(client):
        raise DomainError(_("This account is suspended; sending is not possible."))
    ready_to_send(client, campaign)
    now = datetime.now(UTC)
    control.move_to_sending(client, campaign)
    recipients = materialise(client, campaign)
    if recipients == 0:
        raise DomainError(
            _("Nobody in this audience can receive SMS (no number, unsubscribed or suppressed).")
        )
    needed = _count_deliveries(client, campaign)
    credits.reserve(agency_id=client.agency_id, client_id=client.id, amount=needed, campaign_id=campaign.id)
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(recipients=recipients)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(campaign)
    control.queue_send_jobs(campaign, generation=f"start{int(now.timestamp())}")
    record(
        "campaign.started",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=campaign.name,
        recipients=recipients,
        credits=needed,
    )
    return recipients


def estimate(client: Client, campaign: Campaign, sample: int | None = 2000) -> Estimate:
    """The preview's figures without changing anything. Merge fields make texts differ per recipient, so
    the segment range is taken over (up to `sample`) real recipients and the total scaled from them; the
    reservation at start counts every recipient exactly."""
    audience = campaign.audience or {}
    recipients = count_audience(client, audience, CHANNEL_SMS) if audience else 0
    available = credits.balance(client.agency_id, client.id).available
    if not recipients or not (campaign.text or "").strip():
        return Estimate(recipients, 0, 0, 0, 0, available)
    priced, last = [], 0
    while sample is None or len(priced) < sample:  # None: every recipient (a scheduled send's reservation)
        limit = CHUNK if sample is None else min(CHUNK, sample - len(priced))
        rows = db.session.execute(
            select(Contact.id, Contact.id, Contact.phone)
            .where(audience_condition(client, audience, CHANNEL_SMS), Contact.id > last)
            .order_by(Contact.id)
            .limit(limit)
        ).all()
        if not rows:
            break
        priced += _price_rows(client, campaign, rows)
        last = rows[-1][0]
    segs = [p["s"] for p in priced]
    scale = recipients / len(priced) if priced else 0
    return Estimate(
        recipients,
        min(segs),
        max(segs),
        round(sum(segs) * scale),
        round(sum(p["k"] for p in priced) * scale),
        available,
    )
