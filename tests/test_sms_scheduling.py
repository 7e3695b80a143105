"""Scheduled SMS campaigns: the credits are reserved when it is scheduled; unscheduling gives them back;
at its time the sweeper starts it with the exact count; a start that can no longer happen fails the
campaign with the reason and gives the reservation back. The ledger sums exactly throughout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from portal.extensions import db
from portal.models import Campaign, Client, Suppression
from portal.sending.sweeper import sweep
from portal.services.campaigns import utc_to_local
from portal.sms import credits
from portal.sms.scheduling import schedule_sms, unschedule_sms
from portal.tenancy import bind_tenant

from .sms_support import setup_client, start_gateway
from .support import client_for, run_jobs
from .test_sms_sending import _campaign

NUMBERS = ["+393471234567", "+393471234568"]


def _in_an_hour(client: Client) -> datetime:
    return utc_to_local(client, datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None)


def _balance(app, s):
    with app.app_context(), bind_tenant(s.agency_id):
        row = credits.balance(s.agency_id, s.client_id)
        assert row == credits.ledger_balances(s.agency_id, s.client_id)
        return row


def _due_now(app, s, cid):
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        db.session.execute(
            update(Campaign)
            .where(Campaign.id == cid)
            .values(scheduled_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        db.session.commit()


def test_scheduled_send_reserves_then_starts_with_the_exact_count(app, world):
    url, gateway = start_gateway()
    try:
        s = setup_client(app, world, "A1", url, NUMBERS)
        cid = _campaign(app, s, "x" * 200)  # 2 segments each: 4 credits
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            client = db.session.scalar(select(Client).where(Client.id == s.client_id))
            schedule_sms(
                actor=None, client=client, campaign=db.session.get(Campaign, cid), local=_in_an_hour(client)
            )
            db.session.commit()
        assert _balance(app, s) == credits.Balance(6, 4)
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            unschedule_sms(actor=None, campaign=db.session.get(Campaign, cid))
            db.session.commit()
            assert db.session.get(Campaign, cid).status == "draft"
        assert _balance(app, s) == credits.Balance(10, 0)

        # Through the page this time, then its time comes.
        page = client_for(app, world, "A1.admin")
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            local = _in_an_hour(db.session.scalar(select(Client).where(Client.id == s.client_id)))
        answer = page.post(
            f"/app/sms/{cid}/schedule",
            {"schedule-when": local.strftime("%Y-%m-%dT%H:%M")},
            csrf_path=f"/app/sms/{cid}",
            follow_redirects=True,
        ).get_data(as_text=True)
        assert "its credits are reserved" in answer
        assert _balance(app, s) == credits.Balance(6, 4)
        _due_now(app, s, cid)
        with app.app_context():
            assert sweep()["started"] == 1
        run_jobs(app)
        assert len(gateway.state.messages) == 2
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            assert db.session.get(Campaign, cid).status == "sent"
        # The schedule's reservation went back and the exact one was made at the start: still held, as
        # the delivery reports (which need a live portal, see test_sms_sending) settle it.
        assert _balance(app, s) == credits.Balance(6, 4)
    finally:
        gateway.stop()


def test_a_scheduled_start_that_cannot_happen_fails_and_gives_the_credits_back(app, world):
    url, gateway = start_gateway()
    try:
        s = setup_client(app, world, "A1", url, NUMBERS[:1])
        cid = _campaign(app, s, "Hello")
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            client = db.session.scalar(select(Client).where(Client.id == s.client_id))
            schedule_sms(
                actor=None, client=client, campaign=db.session.get(Campaign, cid), local=_in_an_hour(client)
            )
            # Before its time, the only number is suppressed: nobody is left.
            db.session.add(
                Suppression(
                    agency_id=s.agency_id,
                    client_id=s.client_id,
                    channel="sms",
                    address=NUMBERS[0],
                    reason="manual",
                    source="manual",
                )
            )
            db.session.commit()
        assert _balance(app, s) == credits.Balance(9, 1)
        _due_now(app, s, cid)
        with app.app_context():
            sweep()
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            campaign = db.session.get(Campaign, cid)
            assert campaign.status == "failed" and "Nobody in this audience" in campaign.message
        assert _balance(app, s) == credits.Balance(10, 0)
        assert gateway.state.messages == []
    finally:
        gateway.stop()
