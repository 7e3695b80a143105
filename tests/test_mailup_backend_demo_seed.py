"""The development seed of the provider-side path (`make dev`): with the emulator running, the Demo Agency
gets a `mailup` connection on it, a second demo client bound to it with its own admin, and one campaign
already sent through it with its statistics pulled back. Re-running the seed changes nothing, on either
side. Against the emulator over real HTTP, as the dev server runs it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.backends.mailup.emulator import DEMO_ACCOUNT, start_emulator
from portal.extensions import db
from portal.models import Agency, Campaign, Client, Connection, Event, Suppression, User
from portal.passwords import verify_password
from portal.providers import demo
from portal.seed import seed_demo
from portal.services.reports import campaign_stats
from portal.tenancy import all_tenants, bind_tenant

from .mailup_backend_support import counts


@pytest.fixture(name="demo_emulator")
def demo_emulator_fixture(monkeypatch):
    url, handle = start_emulator()  # the demo account, as `portal mailup-emulator` and `make dev` start it
    monkeypatch.setenv(demo.URL_ENV, url)
    yield url, handle
    handle.stop()


def _snapshot(app) -> dict:
    with app.app_context(), all_tenants():
        agency = db.session.scalar(select(Agency).where(Agency.slug == "demo"))
        client = db.session.scalar(select(Client).where(Client.name == demo.CLIENT_NAME))
        campaign = db.session.scalar(select(Campaign).where(Campaign.client_id == client.id))
        kinds = dict(
            db.session.execute(
                select(Event.kind, func.count()).where(Event.campaign_id == campaign.id).group_by(Event.kind)
            ).all()
        )
        suppressed = {
            s.address: s.reason
            for s in db.session.scalars(select(Suppression).where(Suppression.client_id == client.id))
        }
        return {
            "agency": agency.id,
            "client": client.id,
            "connection": client.email_connection_id,
            "campaign": (campaign.id, campaign.status, campaign.provider_state.get("sending_id")),
            "events": kinds,
            "suppressed": suppressed,
        }


def test_the_seed_sends_a_campaign_through_the_emulator_and_pulls_it_back(app, demo_emulator):
    url, handle = demo_emulator
    with app.app_context():
        done = seed_demo()
    assert {"MailUp demo connection", "MailUp demo client", "MailUp demo statistics pulled"} <= set(done)
    assert "MailUp demo campaign send: sent" in done

    seen = _snapshot(app)
    assert seen["campaign"][1] == "sent" and seen["campaign"][2]
    # six delivered (the bounced one too: MailUp counts the hand-over), opens, clicks, bounce, unsubscribe
    assert seen["events"] == {"delivered": 5, "open": 4, "click": 2, "bounce": 1, "unsubscribe": 1}
    assert seen["suppressed"] == {
        "davide.marino@example.com": "hard_bounce",
        "elisa.greco@example.com": "unsubscribe",
    }
    account = handle.state.account(DEMO_ACCOUNT.username)
    assert counts(account) == (1, 1, 1)
    assert sorted(d["address"] for d in handle.state.deliveries(DEMO_ACCOUNT.username)) == sorted(
        a for a, _ in demo.PEOPLE
    )

    with app.app_context(), all_tenants():
        connection = db.session.get(Connection, seen["connection"])
        assert connection.kind == "mailup" and connection.name == demo.CONNECTION_NAME
        assert connection.options["api_base"] == url and connection.agency_id == seen["agency"]
        user = db.session.scalar(select(User).where(User.email == demo.CLIENT_ADMIN[0]))
        assert user.client_id == seen["client"] and verify_password(user.password_hash, demo.CLIENT_ADMIN[1])
    with app.app_context(), bind_tenant(seen["agency"], seen["client"]):
        client = db.session.get(Client, seen["client"])
        stats = campaign_stats(client, [seen["campaign"][0]])[seen["campaign"][0]]
    assert (stats.sent, stats.unique_opens, stats.unique_clicks, stats.hard_bounces) == (6, 3, 2, 1)

    with app.app_context():
        assert seed_demo() == []  # again: nothing new here ...
    assert _snapshot(app) == seen
    assert counts(account) == (1, 1, 1)  # ... and nothing new at the provider
    assert len(handle.state.deliveries(DEMO_ACCOUNT.username)) == len(demo.PEOPLE)


def test_without_the_emulator_the_seed_makes_no_provider_client(app, monkeypatch):
    monkeypatch.delenv(demo.URL_ENV, raising=False)
    with app.app_context():
        done = seed_demo()
        assert not [d for d in done if "MailUp" in d]
        with all_tenants():
            assert db.session.scalar(select(Client).where(Client.name == demo.CLIENT_NAME)) is None
            assert db.session.scalar(select(Connection).where(Connection.kind == "mailup")) is None
