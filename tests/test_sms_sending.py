"""An SMS campaign end to end over real HTTP: audience (consent rule, E.164, suppression), per-recipient
segments and credits reserved at start, a real RQ worker hands each message to the gateway emulator, the
emulator posts delivery reports to the portal (a live server), credits are consumed for delivered and
released for failed messages — once, however often a report comes — and a STOP reply suppresses that
number for that client only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import Campaign, Client, Contact, Delivery, SmsReply, Subscription, Suppression
from portal.services import DomainError
from portal.services import suppression as supp
from portal.sms import credits
from portal.sms.campaigns import create_sms_campaign, save_sms_campaign
from portal.sms.sending import estimate, start_sms_send
from portal.sms.settle import settle_stale
from portal.tenancy import bind_tenant

from .sms_support import LivePortal, setup_client, start_gateway
from .support import client_for, run_jobs

OK1, OK2, UNKNOWN = "+393471234567", "+393471234568", "+393471230000"


@pytest.fixture
def live(app):
    server = LivePortal(app)
    yield server
    server.stop()


@pytest.fixture
def gateway(live):
    url, handle = start_gateway(live.url)
    yield handle
    handle.stop()


def _campaign(app, s, text, *, name="Promo"):
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        campaign = create_sms_campaign(actor=None, client=client, name=name)
        save_sms_campaign(
            actor=None,
            campaign=campaign,
            name=name,
            sender_id=campaign.sms_sender_id,
            text=text,
            lists=[s.list_id],
            segments=[],
        )
        db.session.commit()
        return campaign.id


def _start(app, s, campaign_id):
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        campaign = db.session.get(Campaign, campaign_id)
        try:
            n = start_sms_send(actor=None, client=client, campaign=campaign)
        except DomainError:
            db.session.rollback()
            raise
        db.session.commit()
        return n


def _deliveries(app, s, campaign_id):
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        return {
            d.address: (d.status, d.segments, d.credits, d.credit_state, d.error)
            for d in db.session.scalars(select(Delivery).where(Delivery.campaign_id == campaign_id))
        }


def test_send_reports_and_credits(app, world, gateway):
    s = setup_client(app, world, "A1", gateway.url, [OK1, OK2, UNKNOWN], pool=100, credits_to_give=40)
    # One recipient's merge value makes the text two segments long; the others stay at one.
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        contact = db.session.get(Contact, s.contact_ids[OK2])
        contact.fields = {"first_name": "x" * 150}
        db.session.commit()
    cid = _campaign(app, s, "Ciao {{ first_name }}, saldi da oggi!")
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        preview = estimate(client, db.session.get(Campaign, cid))
        assert (preview.recipients, preview.min_segments, preview.max_segments, preview.credits) == (
            3,
            1,
            2,
            4,
        )
    assert _start(app, s, cid) == 3
    with app.app_context(), bind_tenant(s.agency_id):
        assert credits.balance(s.agency_id, s.client_id) == credits.Balance(50 - 4, 4)  # 10 opening + 40

    run_jobs(app)
    sent = {m.to: m for m in gateway.state.messages}
    assert sorted(sent) == sorted([OK1, OK2, UNKNOWN]) and len(gateway.state.messages) == 3
    assert sent[OK1].sender == "ShopNews" and sent[OK1].text == "Ciao N0, saldi da oggi!"
    assert gateway.state.flush_reports() == 3  # the emulator posts to the live portal

    rows = _deliveries(app, s, cid)
    assert rows[OK1][:4] == ("sent", 1, 1, "consumed")
    assert rows[OK2][:4] == ("sent", 2, 2, "consumed")
    assert rows[UNKNOWN][0] == "failed" and rows[UNKNOWN][3] == "released"
    assert rows[UNKNOWN][4] == "unknown subscriber"

    # The same reports again change nothing.
    for m in gateway.state.messages:
        assert gateway.state.repost_report(m.id)
    assert _deliveries(app, s, cid) == rows
    with app.app_context(), bind_tenant(s.agency_id):
        assert credits.balance(s.agency_id, s.client_id) == credits.Balance(50 - 3, 0)
        assert credits.balance(s.agency_id, s.client_id) == credits.ledger_balances(s.agency_id, s.client_id)
        assert db.session.get(Campaign, cid).status == "sent"
    # The report shows what each message cost: nothing for the one that failed (its credit went back).
    page = client_for(app, world, "A1.admin").get(f"/app/sms/{cid}/report").get_data(as_text=True)
    cells = dict(re.findall(r'data-number="([^"]+)">.*?data-col="credits">(.*?)</td>', page, re.S))
    assert cells[OK2].strip() == "2" and cells[UNKNOWN].startswith("0 ") and "given back" in cells[UNKNOWN]


def test_a_send_beyond_the_credits_changes_nothing(app, world, gateway):
    s = setup_client(app, world, "A1", gateway.url, [OK1, OK2])  # 10 opening credits
    cid = _campaign(app, s, "x" * 800)  # 6 segments × 2 recipients = 12 credits
    with pytest.raises(DomainError, match="needs 12 SMS credits but only 10"):
        _start(app, s, cid)
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert db.session.get(Campaign, cid).status == "draft"
        assert db.session.scalar(select(db.func.count()).select_from(Delivery)) == 0
        assert credits.balance(s.agency_id, s.client_id) == credits.Balance(10, 0)


def test_stop_reply_suppresses_that_number_for_that_client_only(app, world, gateway, live):
    a1 = setup_client(app, world, "A1", gateway.url, [OK1])
    a2 = setup_client(app, world, "A2", gateway.url, [OK1])
    for s in (a1, a2):
        _start(app, s, _campaign(app, s, "Hello"))
    run_jobs(app)
    # Both clients wrote to the number through the same gateway; the reply belongs to the latest, A2.
    gateway.state.inbound_url = f"https://ag1.portal.test/hooks/sms/{a1.hook_token}/inbound"
    ok, _ = gateway.state.inbound(OK1, "ShopNews", "Stop!")
    assert ok
    ok, _ = gateway.state.inbound(OK1, "ShopNews", "when does the sale end?")
    assert ok
    with app.app_context(), bind_tenant(a2.agency_id):
        replies = db.session.scalars(select(SmsReply).order_by(SmsReply.id)).all()
        assert [(r.client_id, r.opt_out) for r in replies] == [(a2.client_id, True), (a2.client_id, False)]
        suppressed = db.session.scalars(select(Suppression).where(Suppression.channel == "sms")).all()
        assert [(x.client_id, x.address) for x in suppressed] == [(a2.client_id, OK1)]
    # A1 can still write to the number; A2's next audience leaves it out.
    with app.app_context(), bind_tenant(a2.agency_id, a2.client_id):
        client = db.session.scalar(select(Client).where(Client.id == a2.client_id))
        assert estimate(client, db.session.get(Campaign, _campaign(app, a2, "Again"))).recipients == 0
    with app.app_context(), bind_tenant(a1.agency_id, a1.client_id):
        client = db.session.scalar(select(Client).where(Client.id == a1.client_id))
        assert estimate(client, db.session.get(Campaign, _campaign(app, a1, "Again"))).recipients == 1


def test_report_hook_needs_the_connection_token(app, world, gateway, live):
    setup_client(app, world, "A1", gateway.url, [OK1])
    r = requests.post(
        live.url + "/hooks/sms/not-the-token-at-all-123/report",
        json={"id": "gw-1", "status": "delivered"},
        headers={"Host": "ag1.portal.test"},
        timeout=10,
    )
    assert r.status_code == 404


def test_reports_that_never_come_are_paid_as_sent_after_three_days(app, world, gateway):
    s = setup_client(app, world, "A1", gateway.url, [OK1, OK2])
    cid = _campaign(app, s, "Hello")
    _start(app, s, cid)
    run_jobs(app)  # sent, but the emulator posts no report
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert credits.balance(s.agency_id, s.client_id) == credits.Balance(8, 2)
        assert settle_stale() == 0  # too early
        old = datetime.now(UTC) - timedelta(hours=73)
        db.session.execute(update(Delivery).where(Delivery.address == OK1).values(sent_at=old))
        db.session.commit()
    with app.app_context():
        assert settle_stale() == 1
        assert settle_stale() == 0  # once
    with app.app_context(), bind_tenant(s.agency_id):
        assert credits.balance(s.agency_id, s.client_id) == credits.Balance(8, 1)
        assert credits.balance(s.agency_id, s.client_id) == credits.ledger_balances(s.agency_id, s.client_id)


def test_only_subscribed_unsuppressed_sms_subscriptions_receive_the_campaign(app, world, gateway):
    """The consent rule on the SMS channel (DESIGN.md §6): of six numbers on the list only the one with a
    `subscribed` SMS subscription and no SMS suppression gets a Delivery row and a message — never pending,
    unsubscribed, bounced or complained, never a suppressed number, and never a contact subscribed to the
    list by email only."""
    numbers = [f"+3934712300{i}2" for i in range(6)]
    s = setup_client(app, world, "A1", gateway.url, numbers, pool=100, credits_to_give=40)
    states = ["subscribed", "pending", "unsubscribed", "bounced", "complained", "subscribed"]
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        for number, state in zip(numbers, states, strict=True):
            db.session.execute(
                update(Subscription)
                .where(Subscription.contact_id == s.contact_ids[number])
                .values(status=state)
            )
        supp.add(
            actor=None, client=client, channel="sms", raw_address=numbers[5], reason="manual", source="t"
        )
        email_only = Contact(
            agency_id=s.agency_id, client_id=s.client_id, email="mail@example.org", phone="+393471239992"
        )
        db.session.add(email_only)
        db.session.flush()
        db.session.add(
            Subscription(
                agency_id=s.agency_id,
                client_id=s.client_id,
                list_id=s.list_id,
                contact_id=email_only.id,
                channel="email",
            )
        )
        db.session.commit()
    cid = _campaign(app, s, "Saldi da oggi!")
    assert _start(app, s, cid) == 1
    run_jobs(app)
    assert [m.to for m in gateway.state.messages] == [numbers[0]]
    assert set(_deliveries(app, s, cid)) == {numbers[0]}
