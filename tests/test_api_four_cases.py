"""The four cases of the integration guide, each driven through the API, with results coming back through
the events feed or a signed webhook: registry outside/inside × composed outside/inside."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Campaign, Client, Contact, MailingList, Subscription
from portal.sending import control
from portal.services import campaigns as campaign_service
from portal.services import contacts as contact_service
from portal.services import senders
from portal.tenancy import bind_tenant

from .api_support import api_for
from .sending_support import fake_dns
from .support import HostClient, run_jobs
from .test_webhooks import Receiver, _hook, _round, verify

HOST = "ag1.portal.test"
HTML = '<html><body><p>Hello {{ first_name | default("there") }}</p><a href="https://shop.example.com/x">Shop</a></body></html>'


def _tenant(world):
    return bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"])


def _sender(app, world) -> int:
    with app.app_context(), _tenant(world):
        client = db.session.get(Client, world.client_ids["A1"])
        domain = senders.add_domain(actor=None, client=client, domain="news-four.example.com")
        senders.check_domain(actor=None, d=domain, resolver=fake_dns(domain))
        ident = senders.add_identity(
            actor=None, client=client, name="Shop", email="hello@news-four.example.com"
        )
        db.session.commit()
        return ident.id


def _bulk_in(app, api, emails: list[str]) -> int:
    """Registry outside: the CRM pushes its contacts (one bulk upsert = one import job)."""
    list_id = api.post("/lists", json={"name": "CRM customers"}).json["id"]
    job = api.post(
        "/contacts/bulk", json={"lists": [list_id], "contacts": [{"email": e} for e in emails]}
    ).json
    run_jobs(app)
    status = api.get(f"/jobs/{job['job_id']}").json
    assert status["state"] == "done", status
    assert status["result"]["created_count"] == len(emails)
    return list_id


def _portal_registry(app, world, emails: list[str]) -> int:
    """Registry inside: contacts typed into the portal (the contact service, as the UI does)."""
    with app.app_context(), _tenant(world):
        client = db.session.get(Client, world.client_ids["A1"])
        lst = MailingList(agency_id=client.agency_id, client_id=client.id, name="Portal list")
        db.session.add(lst)
        db.session.flush()
        for e in emails:
            contact_service.save_contact(
                actor=None, client=client, data=contact_service.ContactInput(email=e, list_ids=[lst.id])
            )
        db.session.commit()
        return lst.id


def _portal_campaign(app, world, list_id: int | None = None) -> int:
    """Composed inside: the campaign written in the portal's editor (the campaign services)."""
    with app.app_context(), _tenant(world):
        client = db.session.get(Client, world.client_ids["A1"])
        campaign = campaign_service.create_campaign(actor=None, client=client, name="Made in the portal")
        values = campaign_service.CampaignValues(
            name=campaign.name,
            subject="From the portal",
            sender_id=campaign.sender_id,
            html=HTML,
            audience={"lists": [list_id] if list_id else []},
        )
        campaign_service.update_campaign(actor=None, client=client, campaign=campaign, values=values)
        db.session.commit()
        return campaign.id


def _recipient_acts(app, outbox, email: str) -> None:
    """The recipient opens the message and unsubscribes with one click (their own links)."""
    msg = outbox.to(email)[0]
    html = msg.get_body(("html",)).get_content()
    pixel = re.search(rf"https://{re.escape(HOST)}(/o/[A-Za-z0-9_\-]+(?:\.gif)?)", html).group(1)
    unsub = re.search(r"<https://[^/>]+(/u/[^>]+)>", msg["List-Unsubscribe"]).group(1)
    anon = HostClient(app, HOST)
    assert anon.get(pixel).status_code == 200
    resp = anon.http.post(
        f"http://{HOST}{unsub}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status_code == 200


def _feed_types(api, wanted: set[str], email: str) -> set[str]:
    seen, after, deadline = set(), None, time.monotonic() + 60
    while time.monotonic() < deadline:
        page = api.get("/events?limit=100" + (f"&after={after}" if after else "")).json
        seen |= {i["type"] for i in page["data"] if (i["contact"] or {}).get("email") == email}
        after = page["next_cursor"]
        if wanted <= seen:
            break
        if not page["data"]:
            time.sleep(0.2)
    return seen


def test_registry_outside_composed_outside(app, world, outbox):
    sender_id = _sender(app, world)
    api = api_for(app, world, rate_limit_per_minute=6000)
    list_id = _bulk_in(app, api, ["ann@example.org", "bob@example.org"])
    created = api.post(
        "/campaigns",
        json={
            "name": "From the CRM",
            "subject": "Hi",
            "html": HTML,
            "sender_id": sender_id,
            "audience": {"lists": [list_id]},
        },
        headers={"Idempotency-Key": "crm-campaign-1"},
    )
    assert created.status_code == 201, created.json
    campaign_id = created.json["id"]
    sent = api.post(f"/campaigns/{campaign_id}/send", headers={"Idempotency-Key": "crm-send-1"})
    assert sent.status_code == 202 and sent.json["recipients"] == 2
    again = api.post(f"/campaigns/{campaign_id}/send", headers={"Idempotency-Key": "crm-send-1"})
    assert again.json == sent.json  # a retried send is the same send, not a second one
    run_jobs(app)
    assert api.get(f"/campaigns/{campaign_id}").json["status"] == "sent"
    _recipient_acts(app, outbox, "ann@example.org")
    types = _feed_types(api, {"email.opened", "subscription.unsubscribed"}, "ann@example.org")
    assert {"email.opened", "subscription.unsubscribed"} <= types
    stats = api.get(f"/campaigns/{campaign_id}/statistics").json
    assert stats["sent"] == 2 and stats["unique_opens"] == 1 and stats["unsubscribes"] == 1


@pytest.fixture
def receiver(app, monkeypatch):
    """The client's own system: a real HTTP endpoint on 127.0.0.1 (allowed by the development setting)."""
    settings = app.config["PORTAL_SETTINGS"]
    monkeypatch.setitem(
        app.config, "PORTAL_SETTINGS", dataclasses.replace(settings, outbound_allow_localhost=True)
    )
    r = Receiver()
    yield r
    r.close()


def test_registry_outside_composed_inside(app, world, outbox, receiver):
    _sender(app, world)
    _, secret = _hook(app, world, receiver.url, events=("open", "unsubscribe"))
    api = api_for(app, world, rate_limit_per_minute=6000)
    list_id = _bulk_in(app, api, ["cara@example.org"])
    campaign_id = _portal_campaign(app, world)
    assert api.put(f"/campaigns/{campaign_id}/audience", json={"lists": [list_id]}).status_code == 200
    test = api.post(f"/campaigns/{campaign_id}/test", json={"addresses": ["boss@example.org"]})
    assert test.status_code == 200 and test.json == {"sent": 1}
    assert api.post(f"/campaigns/{campaign_id}/send").status_code == 202
    run_jobs(app)
    _recipient_acts(app, outbox, "cara@example.org")
    deadline = time.monotonic() + 60
    while len(receiver.requests) < 2 and time.monotonic() < deadline:
        _round(app, world)
        time.sleep(0.2)
    bodies = [json.loads(b) for h, b in receiver.requests if verify(secret, h, b)]
    assert {b["type"] for b in bodies} >= {"open", "unsubscribe"}
    assert all(b["data"]["contact"]["email"] == "cara@example.org" for b in bodies)


def test_registry_inside_composed_outside(app, world, outbox):
    sender_id = _sender(app, world)
    list_id = _portal_registry(app, world, ["dan@example.org", "eve@example.org"])
    api = api_for(app, world, rate_limit_per_minute=6000)
    campaign_id = api.post(
        "/campaigns",
        json={
            "name": "Agency HTML",
            "subject": "News",
            "html": HTML,
            "sender_id": sender_id,
            "audience": {"lists": [list_id]},
        },
    ).json["id"]
    at = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).isoformat()
    scheduled = api.post(f"/campaigns/{campaign_id}/schedule", json={"at": at})
    assert scheduled.status_code == 200 and scheduled.json["status"] == "scheduled"
    assert api.post(f"/campaigns/{campaign_id}/send").status_code == 202  # or now, after all
    run_jobs(app)
    _recipient_acts(app, outbox, "eve@example.org")
    assert {"email.opened", "subscription.unsubscribed"} <= _feed_types(
        api, {"email.opened", "subscription.unsubscribed"}, "eve@example.org"
    )


def test_registry_inside_composed_inside(app, world, outbox):
    _sender(app, world)
    list_id = _portal_registry(app, world, ["fay@example.org"])
    campaign_id = _portal_campaign(app, world, list_id)
    with app.app_context(), _tenant(world):  # the portal alone sends it
        client = db.session.get(Client, world.client_ids["A1"])
        control.start_send(actor=None, client=client, campaign=db.session.get(Campaign, campaign_id))
        db.session.commit()
    run_jobs(app)
    _recipient_acts(app, outbox, "fay@example.org")
    api = api_for(app, world, scopes=("read",))
    assert {"email.opened", "subscription.unsubscribed"} <= _feed_types(
        api, {"email.opened", "subscription.unsubscribed"}, "fay@example.org"
    )
    with app.app_context(), _tenant(world):
        contact = db.session.scalar(select(Contact).where(Contact.email == "fay@example.org"))
        sub = db.session.scalar(select(Subscription).where(Subscription.contact_id == contact.id))
        assert sub.status == "unsubscribed"
