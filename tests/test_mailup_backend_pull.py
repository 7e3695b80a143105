"""The whole provider-side path against the emulator: bind, send, events happen at the provider, the pull
brings them back into Events, suppression and the campaign report — and a second pull changes nothing.
In a shared account a hard bounce caused by another client's campaign is recorded as what it is."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Client, Contact, Event, Suppression
from portal.services.reports import campaign_stats, link_clicks
from portal.tenancy import bind_tenant

from .mailup_backend_support import (  # noqa: F401 (fixtures)
    ACCOUNT,
    binding_row,
    campaign_row,
    emulator_fixture,
    mailup_campaign,
    pull,
    run_jobs,
    start,
)

PEOPLE = [
    ("anna@example.org", "Anna"),
    ("bruno@example.org", "Bruno"),
    ("carla@example.org", "Carla"),
    ("dario@example.org", "Dario"),
    ("elena@example.org", "Elena"),
]


def _seen(app, s) -> tuple[dict, dict]:
    """(events per kind, suppression reason per address) of the campaign's client."""
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        kinds = dict(
            db.session.execute(
                select(Event.kind, func.count()).where(Event.client_id == s.client_id).group_by(Event.kind)
            ).all()
        )
        entries = {
            e.address: (e.reason, e.source)
            for e in db.session.scalars(select(Suppression).where(Suppression.client_id == s.client_id))
        }
    return kinds, entries


def test_events_come_back_into_events_suppression_and_the_report(app, world, emulator):
    url, handle = emulator
    s = mailup_campaign(app, world, url, people=PEOPLE)
    start(app, s)
    run_jobs(app)
    mid, user = campaign_row(app, s).provider_state["message_id"], ACCOUNT.username
    sim = handle.state.simulate
    sim(user, "view", mid, "anna@example.org")
    sim(user, "view", mid, "anna@example.org")
    sim(user, "click", mid, "bruno@example.org", url="https://shop.example.com/sale")
    sim(user, "hard_bounce", mid, "carla@example.org")
    sim(user, "unsubscribe", mid, "dario@example.org")
    sim(user, "complaint", mid, "elena@example.org")

    pull(app, s)
    kinds, entries = _seen(app, s)
    assert kinds == {"delivered": 4, "open": 2, "click": 1, "bounce": 1, "unsubscribe": 1, "complaint": 1}
    assert entries == {
        "carla@example.org": ("hard_bounce", "bounce"),
        "dario@example.org": ("unsubscribe", "email-api"),
        "elena@example.org": ("complaint", "email-api"),
    }
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        stats = campaign_stats(client, [s.campaign_id])[s.campaign_id]
        campaign = campaign_row(app, s)
        (link,) = [row for row in link_clicks(campaign) if row.total]
    assert (stats.sent, stats.unique_opens, stats.total_opens, stats.unique_clicks) == (5, 1, 2, 1)
    assert (stats.hard_bounces, stats.unsubscribes, stats.complaints) == (1, 1, 1)
    assert link.url == "https://shop.example.com/sale" and link.unique == 1

    pull(app, s)  # again: nothing new anywhere
    assert _seen(app, s) == (kinds, entries)

    sim(user, "view", mid, "anna@example.org")
    pull(app, s)
    assert _seen(app, s)[0]["open"] == 3


def test_a_shared_account_hard_bounce_of_another_client_is_not_this_clients_bounce(app, world, emulator):
    url, handle = emulator
    shared = ("shared@example.org", "Sam")
    first = mailup_campaign(app, world, url, people=[shared, ("one@example.org", "One")])
    start(app, first)
    run_jobs(app)
    other = mailup_campaign(
        app,
        world,
        url,
        people=[shared],
        client_key="A2",
        connection_id=campaign_row(app, first).connection_id,
    )
    start(app, other)
    run_jobs(app)
    account = handle.state.account(ACCOUNT.username)
    assert len(account.lists) == 3  # list 1 and one list per client

    other_message = campaign_row(app, other).provider_state["message_id"]
    handle.state.simulate(ACCOUNT.username, "hard_bounce", other_message, "shared@example.org")
    pull(app, first)  # one job per connection: both clients

    kinds, entries = _seen(app, other)
    assert kinds.get("bounce") == 1 and entries == {"shared@example.org": ("hard_bounce", "bounce")}
    kinds, entries = _seen(app, first)
    assert "bounce" not in kinds and "complaint" not in kinds
    assert entries == {"shared@example.org": ("invalid", "shared-account")}


def test_the_callback_url_accepts_unsubscribes_and_profile_updates(app, world, emulator):
    from .support import HostClient

    url, _ = emulator
    s = mailup_campaign(app, world, url, people=PEOPLE[:2])
    start(app, s)
    run_jobs(app)
    binding = binding_row(app, s)
    field_id = binding.field_map["fields"]["1"]["id"]
    web = HostClient(app, world.hosts["AG1"])
    path = f"/hooks/e/{binding.webhook_token}"

    assert web.http.get(f"http://{web.host}/hooks/e/not-a-token?email=anna@example.org").status_code == 404
    other_agency = HostClient(app, world.hosts["AG2"])
    assert other_agency.http.get(f"http://{other_agency.host}{path}?evt=UNSUBSCRIBE").status_code == 404

    reply = web.http.post(
        f"http://{web.host}{path}",
        data={
            "unsubscribeDate": "2026-12-01T10:00:00.000+01",
            "customerEmail": "anna@example.org",
            "customerList": str(binding.list_id),
        },
    )
    assert (reply.status_code, reply.get_data(as_text=True)) == (200, "1")
    changed = web.http.get(
        f"http://{web.host}{path}?evt=CHANGEPROFILE&eml=bruno@example.org&idl={binding.list_id}"
        f"&campo{field_id}=Bruno%20B."
    )
    assert changed.get_data(as_text=True) == "1"
    ignored = web.http.get(f"http://{web.host}{path}?evt=UNSUBSCRIBE&eml=bruno@example.org&idl=999")
    assert ignored.get_data(as_text=True) == "0"

    _, entries = _seen(app, s)
    assert entries == {"anna@example.org": ("unsubscribe", "email-api-callback")}
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        bruno = db.session.scalar(select(Contact).where(Contact.email == "bruno@example.org"))
        assert bruno.fields["first_name"] == "Bruno B."


def test_the_providers_soft_bounce_limit_is_a_soft_bounce_limit_here(app, world, emulator):
    url, handle = emulator
    s = mailup_campaign(app, world, url, people=PEOPLE[:2])
    start(app, s)
    run_jobs(app)
    mid = campaign_row(app, s).provider_state["message_id"]
    for _ in range(handle.state.options.soft_bounce_limit):
        handle.state.simulate(ACCOUNT.username, "soft_bounce", mid, "anna@example.org")
    pull(app, s)
    kinds, entries = _seen(app, s)
    assert kinds["bounce"] == 1  # one soft bounce event per recipient and message
    assert entries == {"anna@example.org": ("soft_bounce_limit", "bounce")}
