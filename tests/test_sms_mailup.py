"""SMS campaigns through the MailUp connection of an agency: each text is created once as an SMS message
of the account's list, each number sent it with the single SMS send (against the MailUp emulator over
HTTP); MailUp reports no deliveries, so credits are consumed when a message is accepted."""

from __future__ import annotations

from sqlalchemy import select

from portal.backends.mailup.emulator import AccountSpec, start_emulator
from portal.crypto import encrypt_json
from portal.extensions import db
from portal.models import Campaign, Client, Connection, Delivery
from portal.sms import credits
from portal.sms.sending import start_sms_send
from portal.tenancy import bind_tenant

from .sms_support import setup_client
from .support import run_jobs
from .test_sms_sending import _campaign

ACCOUNT = AccountSpec("m7001", "sms-pass", "sms-client-id", "sms-client-secret")


def test_sms_campaign_through_the_mailup_account(app, world):
    url, emulator = start_emulator(accounts=[ACCOUNT])
    try:
        s = setup_client(app, world, "A1", "http://127.0.0.1:9", ["+393471234567", "+393471234568"])
        with app.app_context(), bind_tenant(s.agency_id):
            conn = Connection(
                agency_id=s.agency_id,
                kind="mailup",
                name="Messaging account",
                options={
                    "client_id": ACCOUNT.client_id,
                    "username": ACCOUNT.username,
                    "api_base": url,
                    "rate_per_second": 100,
                    "backoff_seconds": 0.01,
                },
                secrets_encrypted=encrypt_json(
                    {"password": ACCOUNT.password, "client_secret": ACCOUNT.client_secret}
                ),
            )
            db.session.add(conn)
            db.session.flush()
            db.session.scalar(select(Client).where(Client.id == s.client_id)).sms_connection_id = conn.id
            db.session.commit()
        cid = _campaign(app, s, "Saldi da oggi, {{ first_name }}!")
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            client = db.session.scalar(select(Client).where(Client.id == s.client_id))
            assert start_sms_send(actor=None, client=client, campaign=db.session.get(Campaign, cid)) == 2
            db.session.commit()
        run_jobs(app)

        account = emulator.state.account(ACCOUNT.username)
        sms = sorted((d.address, d.channel) for d in account.deliveries)
        assert sms == [("00393471234567", "sms"), ("00393471234568", "sms")]
        texts = sorted(m.body.get("Content") for m in account.messages.values())
        assert texts == ["Saldi da oggi, N0!", "Saldi da oggi, N1!"]  # one message per distinct text
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            rows = db.session.scalars(select(Delivery).where(Delivery.campaign_id == cid)).all()
            assert {(d.status, d.credit_state) for d in rows} == {("sent", "consumed")}
            assert db.session.get(Campaign, cid).status == "sent"
            assert credits.balance(s.agency_id, s.client_id) == credits.Balance(8, 0)
            assert credits.balance(s.agency_id, s.client_id) == credits.ledger_balances(
                s.agency_id, s.client_id
            )
    finally:
        emulator.stop()
