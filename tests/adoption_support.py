"""Helpers for the adoption tests (no tests here): an emulated account pre-filled with every status, a
client of AG1 bound to it, and the preview / start / read-back calls through the real services."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.adoption import service
from portal.backends.mailup.emulator import start_emulator
from portal.backends.mailup.emulator.prefill import generate, prefill
from portal.extensions import db
from portal.models import (
    Adoption,
    Client,
    Connection,
    Contact,
    Field,
    MailingList,
    Segment,
    Subscription,
    Suppression,
)
from portal.tenancy import bind_tenant

from .mailup_backend_support import ACCOUNT, bind_mailup

# One of each kind by hand (so every opt-out reason is certainly there), then generated people.
PEOPLE = [
    {
        "email": "sub@example.org",
        "name": "Sub",
        "fields": {"1": "Sara", "4": "Milano", "23": "120"},
        "lists": {"Newsletter": {"email": "subscribed"}},
        "groups": ["VIP"],
    },
    {"email": "pend@example.org", "fields": {"1": "Pia"}, "lists": {"Newsletter": {"email": "pending"}}},
    {"email": "link@example.org", "fields": {"1": "Lia"}, "lists": {"Newsletter": {"email": "unsubscribed"}}},
    {"email": "admin@example.org", "lists": {"Newsletter": {"email": "admin"}}},
    {"email": "hard@example.org", "lists": {"Newsletter": {"email": "hard_bounce"}}},
    {"email": "soft@example.org", "lists": {"Newsletter": {"email": "soft_bounce"}}},
    {"email": "spam@example.org", "lists": {"Newsletter": {"email": "complaint"}}},
    {
        "email": "both@example.org",
        "mobile": "+393470000001",
        "lists": {"Newsletter": {"email": "subscribed", "sms": "unsubscribed"}},
        "groups": ["Milano"],
    },
    {"email": "not-an-address", "lists": {"Newsletter": {"email": "subscribed"}}},
]
OPTOUT_REASONS = {
    "link@example.org": "unsubscribe",
    "admin@example.org": "manual",
    "hard@example.org": "hard_bounce",
    "soft@example.org": "soft_bounce_limit",
    "spam@example.org": "complaint",
}


def seed(n: int = 60) -> dict:
    generated = generate(n, seed=5)
    generated["recipients"] = PEOPLE + generated["recipients"]
    return generated


@pytest.fixture(name="account")
def account_fixture():
    """(url, handle, what prefill made): the emulator with the pre-filled account."""
    url, handle = start_emulator(accounts=[ACCOUNT])
    made = prefill(handle.state, ACCOUNT.username, seed())
    yield url, handle, made
    handle.stop()


def bound_client(app, world, url: str, client_key: str = "A1", **options) -> tuple[int, int, int]:
    """(agency id, client id, connection id) of a client bound to the emulated account."""
    agency_key = "AG1" if client_key.startswith("A") else "AG2"
    ag, cid = world.agency_ids[agency_key], world.client_ids[client_key]
    return ag, cid, bind_mailup(app, ag, cid, url, **options)


def preview(app, ag: int, cid: int, conn_id: int, **choices) -> dict:
    with app.app_context(), bind_tenant(ag, cid):
        client, connection = _rows(cid, conn_id)
        return service.preview(connection, client, **choices)


def start(app, ag: int, cid: int, conn_id: int, page_size: int = 7, **choices) -> int:
    with app.app_context(), bind_tenant(ag, cid):
        client, connection = _rows(cid, conn_id)
        confirmed = service.preview(connection, client, page_size=page_size, **choices)
        adoption = service.start_adoption(
            actor=None, connection=connection, client=client, confirmed=confirmed
        )
        db.session.commit()
        return adoption.id


def _rows(cid: int, conn_id: int):
    client = db.session.scalar(select(Client).where(Client.id == cid))
    connection = db.session.scalar(select(Connection).where(Connection.id == conn_id))
    return client, connection


def adoption_row(app, ag: int, cid: int, adoption_id: int) -> Adoption:
    with app.app_context(), bind_tenant(ag, cid):
        row = db.session.scalar(select(Adoption).where(Adoption.id == adoption_id))
        db.session.expunge(row)
        return row


def portal_state(app, ag: int, cid: int) -> dict:
    """Everything an adoption may have written for the client, counted."""
    with app.app_context(), bind_tenant(ag, cid):
        subs = db.session.execute(
            select(MailingList.name, Subscription.channel, Subscription.status, func.count())
            .join(MailingList, MailingList.id == Subscription.list_id)
            .group_by(MailingList.name, Subscription.channel, Subscription.status)
        ).all()
        return {
            "lists": sorted(db.session.scalars(select(MailingList.name))),
            "fields": sorted(db.session.execute(select(Field.number, Field.key, Field.kind)).all()),
            "segments": sorted(db.session.scalars(select(Segment.name))),
            "subscriptions": {(n, ch, st): c for n, ch, st, c in subs},
            "suppressions": {
                (s.channel, s.address): s.reason for s in db.session.scalars(select(Suppression))
            },
            "contacts": db.session.scalar(select(func.count(Contact.id))),
        }
