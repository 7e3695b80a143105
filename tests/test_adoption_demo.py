"""The development seed of the adoption (`make dev`): over HTTP it makes and fills an emulator account
(the emulator's prefill endpoint), a connection and a client bound to it; a second run changes nothing;
the client's page then previews the account."""

from __future__ import annotations

from sqlalchemy import select

from portal.adoption import demo, service
from portal.backends.mailup.emulator import start_emulator
from portal.extensions import db
from portal.models import Agency, Client, User
from portal.tenancy import all_tenants, bind_tenant


def _run(app, world, url):
    with app.app_context(), all_tenants():
        admin = db.session.scalar(select(User).where(User.email == world.users["admin"]))
        agency = db.session.scalar(select(Agency).where(Agency.id == world.agency_ids["AG1"]))
        owner = db.session.scalar(select(User).where(User.email == world.users["AG1.owner"]))
        return demo.seed_demo_adoption(admin, agency, owner, url)


def test_the_demo_seed_makes_an_account_to_adopt_once(app, world):
    url, handle = start_emulator()
    try:
        made = _run(app, world, url)
        assert any("account" in m for m in made) and "adoption demo client bound" in made
        account = handle.state.account(demo.ACCOUNT.username)
        assert len(account.recipients) == demo.RECIPIENTS and len(account.groups) == 2
        assert _run(app, world, url) == []  # again: nothing new
        assert len(handle.state.account(demo.ACCOUNT.username).recipients) == demo.RECIPIENTS
        ag = world.agency_ids["AG1"]
        with app.app_context(), bind_tenant(ag):
            client = db.session.scalar(select(Client).where(Client.name == demo.CLIENT_NAME))
            connection = service.adoptable_connection(client)
            assert connection is not None
            with bind_tenant(ag, client.id):
                preview = service.preview(connection, client)
        assert sum(preview["lists"][0]["email"].values()) == demo.RECIPIENTS
    finally:
        handle.stop()
