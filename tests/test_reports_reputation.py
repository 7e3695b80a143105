"""Agency reports and the complaint-rate rule: warning above 0.1%, automatic pause above 0.3% (with at least
1,000 messages sent in 30 days), workers stop for paused campaigns, isolation between agencies."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from portal.extensions import db
from portal.models import AuditEvent, Campaign, Client, Delivery
from portal.sending import batches
from portal.services import reputation
from portal.tenancy import bind_tenant

from .reports_support import add_events, deliveries, sent_campaign, start
from .support import client_for

PEOPLE = ["anna@example.org", "bruno@example.org", "carla@example.org"]


def _bulk_sent(app, s, n: int, ago: timedelta = timedelta(days=1)) -> None:
    """Volume: `n` more delivered messages of the sent campaign (rows, as the pipeline leaves them)."""
    when = datetime.now(UTC) - ago
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        client.email_quota_month = 100_000  # the volume must not block later sends of the test
        db.session.execute(
            insert(Delivery),
            [
                {
                    "agency_id": s.agency_id,
                    "client_id": s.client_id,
                    "campaign_id": s.campaign_id,
                    "contact_id": 10_000_000 + i + int(ago.total_seconds()),
                    "address": f"bulk{i}-{int(ago.total_seconds())}@example.net",
                    "status": "sent",
                    "sent_at": when,
                }
                for i in range(n)
            ],
        )
        db.session.commit()


def _second_campaign_sending(app, s) -> int:
    """Another campaign to the same list, started (deliveries pending) but not yet worked on."""
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        first = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        second = Campaign(
            agency_id=s.agency_id,
            client_id=s.client_id,
            name="Summer sale",
            subject="Summer",
            html=first.html,
            sender_id=first.sender_id,
            audience=first.audience,
        )
        db.session.add(second)
        db.session.commit()
        cid = second.id
    assert start(app, s, cid) == 3
    return cid


_complained = iter(range(10_000))


def _complaints(app, s, n: int) -> None:
    """`n` complaints, each from a different recipient (a recipient complaining twice counts once)."""
    add_events(app, s, [(f"bulk{next(_complained)}-86400@example.net", "complaint") for _ in range(n)])


def _check(app, s) -> list[str]:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        paused = [c.name for c in reputation.check_client(client)]
        db.session.commit()
        return paused


def _campaign(app, s, cid):
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        c = db.session.scalar(select(Campaign).where(Campaign.id == cid))
        return c.status, c.message


def _agency_row(app, world, days=30, key="AG1.owner") -> str:
    resp = client_for(app, world, key).get(f"/agency/reports?days={days}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    m = re.search(rf'<tr data-client="{world.client_ids["A1"]}">(.*?)</tr>', html, re.S)
    return m.group(1) if m else ""


def test_low_volume_never_pauses(app, world):
    s = sent_campaign(app, world, PEOPLE)
    second = _second_campaign_sending(app, s)
    add_events(app, s, [(PEOPLE[0], "complaint"), (PEOPLE[1], "complaint")])  # 2 of 3, on too few messages
    assert _check(app, s) == []
    assert _campaign(app, s, second)[0] == "sending"
    row = _agency_row(app, world)
    assert 'data-testid="warning-badge"' in row and "low volume" in row


def test_warning_above_point_one_percent_without_pause(app, world):
    s = sent_campaign(app, world, PEOPLE)
    _bulk_sent(app, s, 997)  # 1,000 sent
    second = _second_campaign_sending(app, s)
    _complaints(app, s, 1)  # 0.1% exactly: no warning yet
    assert 'data-testid="warning-badge"' not in _agency_row(app, world)
    _complaints(app, s, 1)  # 0.2%
    assert _check(app, s) == []
    row = _agency_row(app, world)
    assert 'data-testid="warning-badge"' in row and "low volume" not in row
    assert "0.2%" in row
    assert _campaign(app, s, second)[0] == "sending"


def test_pause_above_point_three_percent_stops_the_workers(app, world, outbox):
    s = sent_campaign(app, world, PEOPLE)
    _bulk_sent(app, s, 997)
    second = _second_campaign_sending(app, s)
    before = len(outbox.messages())
    _complaints(app, s, 3)  # 0.3% exactly: not above
    assert _check(app, s) == []
    _complaints(app, s, 1)  # 0.4%
    assert _check(app, s) == ["Summer sale"]
    assert _campaign(app, s, second) == ("paused", reputation.PAUSE_REASON)
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert batches.send_batches(second) == 0
        audit = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "reputation.campaigns_paused")
        ).all()
        assert len(audit) == 1 and audit[0].details["campaigns"] == "Summer sale"
        assert audit[0].client_id == s.client_id and audit[0].actor_id is None
    assert len(outbox.messages()) == before
    pending = deliveries(app, s, second)
    assert len(pending) == 3
    assert _check(app, s) == []  # already paused: nothing more, no second audit row
    row = _agency_row(app, world)
    assert 'data-testid="paused-badge"' in row and 'data-testid="warning-badge"' in row


def test_agency_periods_and_isolation(app, world):
    s = sent_campaign(app, world, PEOPLE)
    _bulk_sent(app, s, 20, ago=timedelta(days=20))
    assert ">3</td>" in _agency_row(app, world, days=7)
    assert ">23</td>" in _agency_row(app, world, days=30)
    assert ">23</td>" in _agency_row(app, world, days=90)
    assert ">23</td>" in _agency_row(app, world, days=12345)  # unknown period: 30 days
    # Another agency sees only its own clients.
    assert _agency_row(app, world, key="AG2.owner") == ""
    html = client_for(app, world, "AG2.owner").get("/agency/reports").get_data(as_text=True)
    assert f'data-client="{world.client_ids["B1"]}"' in html
    # Staff see the page too; client users do not reach the agency area.
    assert client_for(app, world, "AG1.staff").get("/agency/reports").status_code == 200
    assert client_for(app, world, "A1.admin").get("/agency/reports").status_code in (403, 404)
