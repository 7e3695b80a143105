"""One figure for the monthly email quota: the dashboard and the settings page show what the quota check at
send start counts (portal/usage.py) — emails of campaigns started this month that were not skipped."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from portal import usage
from portal.extensions import db
from portal.models import Campaign, Client, Delivery
from portal.sending import control
from portal.services import DomainError
from portal.tenancy import bind_tenant

from .sending_support import make_campaign
from .support import client_for

PEOPLE = [(f"p{i}@example.org", f"P{i}") for i in range(4)]


def _client(s) -> Client:
    return db.session.scalar(select(Client).where(Client.id == s.client_id))


def _campaign(s) -> Campaign:
    return db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))


def _stat(html: str) -> tuple[str, str]:
    """The dashboard's email figure and the words around it."""
    block = re.search(r'data-testid="stat-emails">(.*?)<progress', html, re.S).group(1)
    value = re.search(r'class="value">([^<]*)<', block).group(1).strip()
    words = re.sub(r"<[^>]+>", " ", block.replace(value, "", 1))
    return value, re.sub(r"\s+", " ", words).strip()


def _seed_month(app, s) -> None:
    """This month's campaign started for real (4 emails materialised), then: 2 sent, 1 failed, 1 skipped.
    Plus what must not count: last month's campaign, and an SMS message of this month."""
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert control.start_send(actor=None, client=_client(s), campaign=_campaign(s)) == 4
        ids = list(db.session.scalars(select(Delivery.id).order_by(Delivery.id)))
        for delivery_id, status in zip(ids, ("sent", "sent", "failed", "skipped"), strict=True):
            db.session.execute(update(Delivery).where(Delivery.id == delivery_id).values(status=status))
        old = Campaign(
            agency_id=s.agency_id,
            client_id=s.client_id,
            name="Last month",
            status="sent",
            started_at=usage.month_start() - timedelta(days=3),
        )
        sms = Campaign(
            agency_id=s.agency_id,
            client_id=s.client_id,
            name="Text",
            channel="sms",
            status="sent",
            started_at=datetime.now(UTC),
        )
        db.session.add_all([old, sms])
        db.session.flush()
        for n in range(5):
            db.session.add(
                Delivery(
                    agency_id=s.agency_id,
                    client_id=s.client_id,
                    campaign_id=old.id,
                    contact_id=10_000 + n,
                    address=f"old{n}@example.org",
                    status="sent",
                )
            )
        db.session.add(
            Delivery(
                agency_id=s.agency_id,
                client_id=s.client_id,
                campaign_id=sms.id,
                contact_id=20_000,
                channel="sms",
                address="+393471234567",
                status="sent",
            )
        )
        db.session.commit()


def test_dashboard_shows_what_the_quota_check_counts(app, world):
    s = make_campaign(app, world, contacts=PEOPLE)
    _seed_month(app, s)
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert usage.emails_used_this_month(_client(s)) == 3  # sent, sent, failed; not the skipped one

    html = client_for(app, world, "A1.viewer").get("/app/").get_data(as_text=True)
    assert _stat(html) == (
        "3",
        "Emails used this month, of 1,000 Sent or waiting to be sent, by the campaigns started this month.",
    )
    assert re.search(r"Emails left this month</dt><dd>997<", html)
    settings = client_for(app, world, "A1.admin").get("/app/settings").get_data(as_text=True)
    assert re.search(r"Emails used this month</dt><dd>3<", settings)


def test_the_quota_check_leaves_exactly_what_the_dashboard_says(app, world):
    s = make_campaign(app, world, contacts=PEOPLE)
    _seed_month(app, s)
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        _client(s).email_quota_month = 6
        again = _campaign(s)
        second = Campaign(
            agency_id=s.agency_id,
            client_id=s.client_id,
            name="Again",
            subject=again.subject,
            html=again.html,
            sender_id=again.sender_id,
            audience=again.audience,
        )
        db.session.add(second)
        db.session.commit()
        second_id = second.id
    html = client_for(app, world, "A1.admin").get("/app/").get_data(as_text=True)
    assert re.search(r"Emails left this month</dt><dd>3<", html)
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == second_id))
        with pytest.raises(DomainError, match="4 recipients but only 3 of the 6 emails"):
            control.start_send(actor=None, client=_client(s), campaign=campaign)
        db.session.rollback()


def test_one_function_answers_both():
    assert control.emails_used_this_month is usage.emails_used_this_month
