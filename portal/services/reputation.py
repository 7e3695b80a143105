"""Sender reputation: per-client bounce, complaint and unsubscribe rates, and the automatic pause.

The rule (documented in the README): over the last 30 days, complaint rate = distinct complaints /
delivered (sent minus distinct bounced deliveries), by event time for complaints and bounces and by sent
time for messages. A client is *warned* above 0.1%. Above 0.3%, and only once at least 1,000 messages were
sent in the window (so 1 complaint out of 10 messages pauses nothing), every campaign of the client that is
sending is paused with the reason "complaint rate above 0.3%" and one audit event records it. Paused
campaigns stay paused until a person resumes them; the check runs after each complaint is recorded
(portal.services.events calls `check_client`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, distinct, func, select

from ..extensions import db
from ..models import Campaign, Client, Delivery, Event
from ..models.campaign import CAMPAIGN_PAUSED, CAMPAIGN_SENDING, DELIVERY_SENT
from ..sending import control
from . import DomainError
from .audit import record
from .reports import rate

WINDOW_DAYS = 30
MIN_VOLUME = 1000  # messages sent in the window before an automatic pause can happen
WARN_RATE = 0.001  # 0.1%: warning badge for the agency
PAUSE_RATE = 0.003  # 0.3%: sending campaigns are paused
PAUSE_REASON = "complaint rate above 0.3%"
PERIODS = (7, 30, 90)


@dataclass
class Reputation:
    client_id: int
    name: str = ""
    sent: int = 0
    bounced: int = 0
    complaints: int = 0
    unsubscribes: int = 0
    paused_campaigns: int = 0  # campaigns currently paused by the complaint rule

    @property
    def delivered(self) -> int:
        return max(self.sent - self.bounced, 0)

    @property
    def bounce_rate(self) -> float:
        return rate(self.bounced, self.sent)

    @property
    def complaint_rate(self) -> float:
        return rate(self.complaints, self.delivered)

    @property
    def unsubscribe_rate(self) -> float:
        return rate(self.unsubscribes, self.delivered)

    @property
    def warning(self) -> bool:
        return self.complaint_rate > WARN_RATE

    @property
    def over_pause_threshold(self) -> bool:
        return self.sent >= MIN_VOLUME and self.complaint_rate > PAUSE_RATE

    @property
    def low_volume(self) -> bool:
        return self.sent < MIN_VOLUME


def _distinct_events(kind: str):
    # A complaint or bounce without a delivery (an unmatched feedback report) still counts once.
    key = func.coalesce(Event.delivery_id, -Event.id)
    return func.count(distinct(case((Event.kind == kind, key))))


def rates(agency_id: int, client_ids: list[int] | None, days: int, now: datetime | None = None):
    """Reputation of the agency's clients (or some of them) over the last `days` days: grouped queries."""
    since = (now or datetime.now(UTC)) - timedelta(days=days)
    clients = select(Client.id, Client.name).where(Client.agency_id == agency_id).order_by(Client.name)
    if client_ids is not None:
        clients = clients.where(Client.id.in_(client_ids))
    out = {cid: Reputation(client_id=cid, name=name) for cid, name in db.session.execute(clients)}
    if not out:
        return []
    ids = list(out)
    sent = db.session.execute(
        select(Delivery.client_id, func.count())
        .where(
            Delivery.agency_id == agency_id,
            Delivery.client_id.in_(ids),
            Delivery.status == DELIVERY_SENT,
            Delivery.sent_at >= since,
        )
        .group_by(Delivery.client_id)
    )
    for cid, n in sent:
        out[cid].sent = n
    events = db.session.execute(
        select(
            Event.client_id,
            _distinct_events("bounce"),
            _distinct_events("complaint"),
            _distinct_events("unsubscribe"),
        )
        .where(Event.agency_id == agency_id, Event.client_id.in_(ids), Event.created_at >= since)
        .group_by(Event.client_id)
    )
    for cid, bounced, complaints, unsubscribes in events:
        out[cid].bounced, out[cid].complaints, out[cid].unsubscribes = bounced, complaints, unsubscribes
    paused = db.session.execute(
        select(Campaign.client_id, func.count())
        .where(
            Campaign.agency_id == agency_id,
            Campaign.client_id.in_(ids),
            Campaign.status == CAMPAIGN_PAUSED,
            Campaign.message == PAUSE_REASON,
        )
        .group_by(Campaign.client_id)
    )
    for cid, n in paused:
        out[cid].paused_campaigns = n
    return list(out.values())


def check_client(client: Client, now: datetime | None = None) -> list[Campaign]:
    """Pause the client's sending campaigns when its 30-day complaint rate is above 0.3% (see the module
    docstring for the rule). Flushes, never commits; returns the campaigns it paused. Needs a bound tenant
    (the client's, or its agency's)."""
    reputation = rates(client.agency_id, [client.id], WINDOW_DAYS, now)[0]
    if not reputation.over_pause_threshold:
        return []
    sending = db.session.scalars(
        select(Campaign)
        .where(Campaign.client_id == client.id, Campaign.status == CAMPAIGN_SENDING)
        .order_by(Campaign.id)
    )
    paused = []
    for campaign in list(sending):
        try:
            control.pause(actor=None, campaign=campaign, reason=PAUSE_REASON)
        except DomainError:
            continue  # it finished or was paused meanwhile
        paused.append(campaign)
    if paused:
        record(
            "reputation.campaigns_paused",
            actor=None,
            agency_id=client.agency_id,
            client_id=client.id,
            target=client.name,
            complaint_rate=f"{reputation.complaint_rate:.3%}",
            complaints=reputation.complaints,
            delivered=reputation.delivered,
            campaigns=", ".join(c.name for c in paused),
        )
    return paused
