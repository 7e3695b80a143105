"""Helpers for the provider-side path tests (no tests here): the MailUp emulator on a free port, a client
bound to a `mailup` connection on it, a campaign with plain merge tags, and reading both sides back."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.backends.mailup.emulator import AccountSpec, start_emulator
from portal.crypto import encrypt_json
from portal.extensions import db
from portal.models import Campaign, Client, Connection, Delivery, ProviderBinding
from portal.sending import control
from portal.tenancy import bind_tenant

from .sending_support import Setup, make_campaign
from .support import run_jobs

ACCOUNT = AccountSpec("m1234", "secret-pw", "client-abc", "client-secret-xyz")
HTML = """<html><body><p>Hello {{ first_name }},</p>
<p>Our <a href="https://shop.example.com/sale">spring sale</a> is on. Write to {{ email }}.</p>
</body></html>"""
PEOPLE = [("anna@example.org", "Anna"), ("bruno@example.org", "Bruno"), ("carla@example.org", "Carla")]


@pytest.fixture(name="emulator")
def emulator_fixture():
    url, handle = start_emulator(accounts=[ACCOUNT])
    yield url, handle
    handle.stop()


def bind_mailup(app, agency_id: int, client_id: int, url: str, *, connection_id=None, **options) -> int:
    """A `mailup` connection of the agency on the emulator (or `connection_id`), bound to the client."""
    with app.app_context(), bind_tenant(agency_id):
        if connection_id is not None:
            db.session.scalar(
                select(Client).where(Client.id == client_id)
            ).email_connection_id = connection_id
            db.session.commit()
            return connection_id
        conn = Connection(
            agency_id=agency_id,
            kind="mailup",
            name="Email API",
            options={
                "client_id": ACCOUNT.client_id,
                "username": ACCOUNT.username,
                "console_host": "services.example",
                "api_base": url,
                "rate_per_second": 100,
                "backoff_seconds": 0.01,
                **options,
            },
            secrets_encrypted=encrypt_json(
                {"password": ACCOUNT.password, "client_secret": ACCOUNT.client_secret}
            ),
        )
        db.session.add(conn)
        db.session.flush()
        db.session.scalar(select(Client).where(Client.id == client_id)).email_connection_id = conn.id
        db.session.commit()
        return conn.id


def mailup_campaign(
    app, world, url: str, *, people=PEOPLE, client_key="A1", html=HTML, connection_id=None, **options
) -> Setup:
    s = make_campaign(
        app, world, contacts=people, client_key=client_key, html=html, subject="News for {{ first_name }}"
    )
    bind_mailup(app, s.agency_id, s.client_id, url, connection_id=connection_id, **options)
    return s


def pull(app, s: Setup) -> dict:
    """The pull job of the campaign's connection, as the ticker's fan-out queues it."""
    from portal.jobs.runner import execute

    with app.app_context():
        connection_id = campaign_row(app, s).connection_id
    return execute("providers.pull", s.agency_id, None, {"connection_id": connection_id})


def start(app, s: Setup) -> None:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        control.start_send(actor=None, client=client, campaign=campaign)
        db.session.commit()


def campaign_row(app, s: Setup) -> Campaign:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        db.session.expunge(campaign)
        return campaign


def deliveries(app, s: Setup) -> dict[str, tuple[str, str]]:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        return {
            d.address: (d.status, d.error)
            for d in db.session.scalars(select(Delivery).where(Delivery.campaign_id == s.campaign_id))
        }


def binding_row(app, s: Setup) -> ProviderBinding:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        binding = db.session.scalar(select(ProviderBinding).where(ProviderBinding.client_id == s.client_id))
        db.session.expunge(binding)
        return binding


def counts(account) -> tuple[int, int, int]:
    """(groups, messages, sendings) the emulated account holds."""
    return len(account.groups), len(account.messages), len(account.sendings)


__all__ = ["emulator_fixture", "run_jobs"]
