"""Development seed: a campaign already sent to the demo Newsletter list, with opens, clicks, a hard
bounce and an unsubscribe, so a newcomer's first look at Reports shows real figures and charts.

Dev only (`portal/seed.py` calls it; production never seeds). The deliveries are materialised by the
sending service (the consent rule, one row per recipient) and the events recorded by the events
service (the bounce suppresses, the unsubscribe unsubscribes), exactly as live traffic would; only the
clock is moved back: the send happened three days ago and the worker's hand-over is written as done.
Re-running it changes nothing (the campaign is found by name).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from ..extensions import db
from ..models import Campaign, Client, Delivery, Event, MailingList, SenderIdentity
from ..models.campaign import CAMPAIGN_SENT, DELIVERY_SENT
from ..sending import control
from ..services import campaigns, events
from ..tenancy import bind_tenant

DEMO_SENT_CAMPAIGN = "Spring offers (sent)"
SENT_DAYS_AGO = 3
# Who did what, by demo address (portal/seed.py DEMO_CONTACTS): minutes after the send.
OPENS = {"giulia.rossi@example.com": (12, 95, 1500), "marco.bianchi@example.com": (40,)}
CLICKS = {"giulia.rossi@example.com": ((14, 0), (97, 1)), "marco.bianchi@example.com": ((41, 0),)}
HARD_BOUNCE = "sara.verdi@example.com"
UNSUBSCRIBE = ("luca.neri@example.com", 180)


def seed_demo_sent_campaign(client: Client, list_name: str = "Newsletter") -> list[str]:
    with bind_tenant(client.agency_id, client.id):
        if db.session.scalar(select(Campaign.id).where(Campaign.name == DEMO_SENT_CAMPAIGN)):
            return []
        newsletter = db.session.scalar(select(MailingList).where(MailingList.name == list_name))
        sender = db.session.scalar(select(SenderIdentity).order_by(SenderIdentity.id))
        if newsletter is None or sender is None:
            return []
        campaign = campaigns.create_campaign(
            actor=None, client=client, name=DEMO_SENT_CAMPAIGN, starter="newsletter"
        )
        campaign.subject = "Spring offers: 20% off until Sunday"
        campaign.sender_id = sender.id
        campaign.audience = {
            "lists": [newsletter.id],
            "segments": [],
            "exclude_lists": [],
            "exclude_segments": [],
        }
        db.session.flush()
        control.start_send(actor=None, client=client, campaign=campaign)
        started = datetime.now(UTC) - timedelta(days=SENT_DAYS_AGO)
        _mark_sent(campaign, started)
        by_address = {
            d.address: d
            for d in db.session.scalars(select(Delivery).where(Delivery.campaign_id == campaign.id))
        }
        _record_events(by_address, started)
        db.session.commit()
    return ["sent demo campaign with opens, clicks, a bounce and an unsubscribe"]


def _mark_sent(campaign: Campaign, started: datetime) -> None:
    """What the worker writes once every message was accepted, dated at the demo's send time."""
    db.session.execute(
        update(Delivery)
        .where(Delivery.campaign_id == campaign.id)
        .values(status=DELIVERY_SENT, attempts=1, sent_at=started + timedelta(seconds=30))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(status=CAMPAIGN_SENT, started_at=started, finished_at=started + timedelta(minutes=1))
        .execution_options(synchronize_session=False)
    )


def _at(event: Event | None, when: datetime) -> None:
    if event is not None:
        event.created_at = when


def _record_events(by_address: dict[str, Delivery], started: datetime) -> None:
    minute = timedelta(minutes=1)
    for address, offsets in OPENS.items():
        for n, after in enumerate(offsets):
            d = by_address[address]
            _at(
                events.record_event(d, "open", f"demo-open:{d.id}:{n}", source="portal"),
                started + after * minute,
            )
    for address, clicks in CLICKS.items():
        for n, (after, link) in enumerate(clicks):
            d = by_address[address]
            event = events.record_event(
                d, "click", f"demo-click:{d.id}:{n}", link_index=link, source="portal"
            )
            _at(event, started + after * minute)
    bounced = by_address[HARD_BOUNCE]
    event = events.apply_bounce(
        bounced,
        bounce_class="hard",
        status_code="5.1.1",
        detail="550 5.1.1 The email account that you tried to reach does not exist",
        provider_event_id=f"demo-bounce:{bounced.id}",
        source="inbound",
    )
    _at(event, started + 2 * minute)
    address, after = UNSUBSCRIBE
    leaving = by_address[address]
    events.apply_unsubscribe(leaving, source="one-click")
    db.session.flush()
    _at(
        db.session.scalar(select(Event).where(Event.delivery_id == leaving.id, Event.kind == "unsubscribe")),
        started + after * minute,
    )
