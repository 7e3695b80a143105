"""White-label: crawl every page an agency owner and a client admin can reach; none may name the provider."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest

from .mailup_backend_support import emulator_fixture  # noqa: F401 (fixture)
from .support import client_for

HREF = re.compile(r'href="([^"#]+)"')
PROVIDER = re.compile(r"mail\s*up", re.I)


def _crawl(http, start: str, limit: int = 400, data: tuple[str, ...] = ()) -> dict[str, int]:
    """`data`: strings people typed (a client's name, a login) that may spell the word; they are the
    agency's data, not the portal naming its provider, so they are taken out before the check."""
    seen: dict[str, int] = {}
    queue = [start]
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen:
            continue
        resp = http.get(path)
        seen[path] = resp.status_code
        body = resp.get_data(as_text=True) if resp.mimetype.startswith(("text/", "application/json")) else ""
        headers = "\n".join(f"{k}: {v}" for k, v in resp.headers.items())
        checked, checked_headers = body, headers
        for typed in data:
            checked, checked_headers = checked.replace(typed, ""), checked_headers.replace(typed, "")
        found = PROVIDER.search(checked)
        assert not found, (
            f"{path} names the provider in its body: …{checked[max(0, found.start() - 80) : found.end() + 40]}…"
        )
        assert not PROVIDER.search(checked_headers), f"{path} names the provider in its headers"
        if resp.mimetype != "text/html":
            continue
        for href in HREF.findall(body):
            url = urljoin(path, href.replace("&amp;", "&"))
            parts = urlsplit(url)
            if parts.netloc or not parts.path.startswith("/") or parts.path.startswith("/static/"):
                continue
            if "logout" in parts.path:
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target not in seen:
                queue.append(target)
    return seen


def _provider_everywhere(app, world) -> dict[str, int]:
    """The operator names things after the provider; none of it may surface below the back-office. Rows
    written directly (names older than the naming rule) are agency defaults and client bindings; then the
    agency binds clients through its own pages, so the activity log carries those events too."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import Agency, Client, Connection
    from portal.tenancy import all_tenants, bind_tenant

    ag1, a1 = world.agency_ids["AG1"], world.client_ids["A1"]
    with app.app_context(), bind_tenant(ag1):
        conn = Connection(
            agency_id=ag1, kind="mailup", name="MailUp production", options={"host": "services.mailup.com"}
        )
        sms = Connection(agency_id=ag1, kind="mailup", name="MailUp SMS", options={})
        bulk = Connection(agency_id=ag1, kind="mailup", name="Bulk account", options={})
        db.session.add_all([conn, sms, bulk])
        db.session.flush()
        db.session.scalar(select(Client).where(Client.id == a1)).email_connection_id = conn.id
        ids = {"production": conn.id, "sms": sms.id, "bulk": bulk.id}
        db.session.commit()
    with app.app_context(), all_tenants():
        agency = db.session.get(Agency, ag1)
        agency.default_email_connection_id, agency.default_sms_connection_id = ids["production"], ids["sms"]
        db.session.commit()
    owner = client_for(app, world, "AG1.owner")
    a2 = world.client_ids["A2"]
    for client_id, email, sms_id in ((a2, ids["bulk"], ids["sms"]), (a1, ids["bulk"], ids["bulk"])):
        detail = f"/agency/clients/{client_id}"
        resp = owner.post(
            f"{detail}/connections",
            {"delivery-email_connection": str(email), "delivery-sms_connection": str(sms_id)},
            csrf_path=detail,
        )
        assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return ids


@pytest.mark.parametrize(
    "user_key,start", [("AG1.owner", "/agency/"), ("A1.admin", "/app/"), ("AG1.owner", "/account")]
)
def test_no_page_names_the_provider(app, world, user_key, start):
    _provider_everywhere(app, world)
    http = client_for(app, world, user_key)
    pages = _crawl(http, start)
    assert len(pages) >= 5, pages
    assert all(code < 500 for code in pages.values()), {p: c for p, c in pages.items() if c >= 500}
    if start == "/agency/":
        # The pages that show connections were reached: the clients list and each client's page.
        for path in ("/agency/clients", f"/agency/clients/{world.client_ids['A1']}", "/agency/activity"):
            assert pages.get(path) == 200, path


def test_connection_audit_rows_do_not_name_the_provider(app, world):
    """What the activity pages show and the CSV export writes: target and every detail of the rows."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import AuditEvent
    from portal.tenancy import bind_tenant

    _provider_everywhere(app, world)
    with app.app_context(), bind_tenant(world.agency_ids["AG1"]):
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "client.connection_changed"))
        written = [f"{e.target} {e.details}" for e in rows]
    assert len(written) == 4
    assert not [w for w in written if PROVIDER.search(w)], written


@pytest.mark.parametrize("user_key,start", [("A1.admin", "/app/"), ("AG1.owner", "/agency/")])
def test_a_client_sending_through_the_provider_sees_no_provider(app, world, emulator, user_key, start):
    """A client bound to a `mailup` connection on the emulator: a campaign sent and its events pulled
    back (opens, clicks, a bounce, a complaint), a campaign paused by an outage, a draft whose merge tags
    the provider cannot take. Reports, suppression, campaign and review pages name nobody."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import Campaign
    from portal.providers import send as provider_send
    from portal.tenancy import bind_tenant

    from .mailup_backend_support import ACCOUNT, campaign_row, mailup_campaign, pull, run_jobs
    from .mailup_backend_support import start as start_send

    url, handle = emulator
    people = [("anna@example.org", "Anna"), ("bruno@example.org", "Bruno"), ("carla@example.org", "Carla")]
    s = mailup_campaign(app, world, url, people=people)
    start_send(app, s)
    run_jobs(app)
    mid, user = campaign_row(app, s).provider_state["message_id"], ACCOUNT.username
    handle.state.simulate(user, "view", mid, "anna@example.org")
    handle.state.simulate(user, "click", mid, "anna@example.org", url="https://shop.example.com/sale")
    handle.state.simulate(user, "hard_bounce", mid, "bruno@example.org")
    handle.state.simulate(user, "complaint", mid, "carla@example.org")
    pull(app, s)
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        sent = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        for name, html in (("Outage", sent.html), ("Filters", "<p>{{ first_name | default('you') }}</p>")):
            db.session.add(
                Campaign(
                    agency_id=s.agency_id,
                    client_id=s.client_id,
                    name=name,
                    subject="Hello",
                    html=html,
                    sender_id=sent.sender_id,
                    audience=sent.audience,
                )
            )
        db.session.commit()
        outage = db.session.scalar(select(Campaign).where(Campaign.name == "Outage"))
        outage_id = outage.id
    handle.state.inject_fault(503, count=10_000)
    outage_setup = type(s)(**{**s.__dict__, "campaign_id": outage_id})
    start_send(app, outage_setup)
    for _ in range(provider_send.BREAKER_LIMIT):
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            provider_send.run_send(outage_id)
    assert campaign_row(app, outage_setup).status == "paused"
    handle.state.faults.clear()

    pages = _crawl(client_for(app, world, user_key), start)
    assert len(pages) >= 5 and all(code < 500 for code in pages.values())
    if user_key == "A1.admin":  # the report of the pulled campaign, the paused one, the refused draft
        for path in (
            f"/app/reports/campaigns/{s.campaign_id}",
            f"/app/campaigns/{outage_id}",
            "/app/suppression",
        ):
            assert pages.get(path) == 200, path
        assert any(p.endswith("/review") for p in pages)
