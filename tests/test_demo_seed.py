"""`make dev`'s seed: a campaign already sent to the demo list, with opens, clicks, a bounce and an
unsubscribe recorded through the sending and events services, so Reports shows real figures; seeding
again changes nothing."""

from __future__ import annotations

import json
import re

from sqlalchemy import func, select, text

from portal.extensions import db
from portal.models import Campaign, Contact, Delivery, Event, Subscription, Suppression
from portal.models.campaign import CAMPAIGN_SENT, DELIVERY_SENT
from portal.reports.demo import DEMO_SENT_CAMPAIGN
from portal.seed import CLIENT_ADMIN, seed_demo
from portal.tenancy import all_tenants

from .support import HostClient


def _counts(app) -> dict[str, int]:
    with app.app_context(), db.engine.connect() as conn:
        return {
            t.name: conn.execute(text(f'SELECT count(*) FROM "{t.name}"')).scalar_one()
            for t in db.metadata.sorted_tables
        }


def _seed(app) -> list[str]:
    with app.app_context():
        done = seed_demo()
        db.session.commit()
        return done


def test_the_seed_sends_a_demo_campaign_with_events_once(app):
    assert any("sent demo campaign" in step for step in _seed(app))
    with app.app_context(), all_tenants():
        campaign = db.session.scalars(select(Campaign).where(Campaign.name == DEMO_SENT_CAMPAIGN)).one()
        assert campaign.status == CAMPAIGN_SENT and campaign.started_at and campaign.finished_at
        assert len(campaign.links) >= 2
        assert len(set(campaign.links)) == len(campaign.links)  # Reports tells its links apart
        statuses = db.session.scalars(
            select(Delivery.status).where(Delivery.campaign_id == campaign.id)
        ).all()
        assert statuses == [DELIVERY_SENT] * 4
        kinds = dict(
            db.session.execute(
                select(Event.kind, func.count()).where(Event.campaign_id == campaign.id).group_by(Event.kind)
            ).all()
        )
        assert kinds == {"open": 4, "click": 3, "bounce": 1, "unsubscribe": 1}
        assert all(
            campaign.started_at <= when
            for when in db.session.scalars(select(Event.created_at).where(Event.campaign_id == campaign.id))
        )
        # The services did their part: the bounce and the unsubscribe are suppressed, the list left.
        reasons = dict(db.session.execute(select(Suppression.address, Suppression.reason)).all())
        assert reasons == {
            "sara.verdi@example.com": "hard_bounce",
            "luca.neri@example.com": "list_unsubscribe",
        }
        assert (
            db.session.scalar(
                select(func.count()).select_from(Subscription).where(Subscription.status == "unsubscribed")
            )
            == 1
        )
        campaign_id = campaign.id

    before = _counts(app)
    assert _seed(app) == []  # nothing left to do
    assert _counts(app) == before

    c = HostClient(app, "demo.portal.test")
    c.login(CLIENT_ADMIN[0], CLIENT_ADMIN[1])
    page = c.get(f"/app/reports/campaigns/{campaign_id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert DEMO_SENT_CAMPAIGN in body
    island = re.search(r'<script[^>]*type="application/json"[^>]*>(.*?)</script>', body, re.S)
    assert island, "the report's chart data"
    data = json.loads(island.group(1))
    assert data, data


def test_the_seeded_opt_outs_show_where_they_came_from_in_words(app):
    """The unsubscribe of the seeded campaign came by the one-click link: the contact's page and the
    suppression list say so in the reader's language, not as the stored code "one-click"."""
    _seed(app)
    with app.app_context(), all_tenants():
        contact_id = db.session.scalar(select(Contact.id).where(Contact.email == "luca.neri@example.com"))
    c = HostClient(app, "demo.portal.test")
    c.login(CLIENT_ADMIN[0], CLIENT_ADMIN[1])
    for path in (f"/app/contacts/{contact_id}", "/app/suppression"):
        body = c.get(path).get_data(as_text=True)
        assert "One-click unsubscribe" in body and "one-click<" not in body, path
    c.post("/language", {"lang": "it", "next": "/app/"}, csrf_path="/app/")
    body = c.get(f"/app/contacts/{contact_id}").get_data(as_text=True)
    assert "Disiscrizione con un clic" in body
