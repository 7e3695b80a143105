"""White-label crawl of the MailUp demo client that `make dev` seeds (portal/providers/demo.py): every page
its client admin reaches, and every page its agency owner reaches, in the agency area and acting inside
that client — a campaign sent through the provider with its events pulled back, suppression entries,
reports — and none names the provider.

The issue names the demo client "Demo MailUp Client" and its admin mailup@demo.localhost: those are data
the agency typed (with the client's slug, made of its name), so the crawl takes exactly those strings out
before it looks (tests/test_white_label_
crawl.py, `data=`); everything else the portal writes is checked as for any client."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.backends.mailup.emulator import start_emulator
from portal.extensions import db
from portal.models import Agency, Client
from portal.providers import demo
from portal.seed import OWNER, seed_demo
from portal.tenancy import all_tenants

from .support import HostClient
from .test_white_label_crawl import _crawl

TYPED = (demo.CLIENT_NAME, demo.CLIENT_ADMIN[0], "demo-mailup-client")  # name, login, slug made of the name


@pytest.fixture(name="seeded")
def seeded_demo(app, monkeypatch):
    url, handle = start_emulator()
    monkeypatch.setenv(demo.URL_ENV, url)
    try:
        with app.app_context():
            done = seed_demo()
            assert "MailUp demo statistics pulled" in done
            with all_tenants():
                agency = db.session.scalar(select(Agency).where(Agency.slug == "demo"))
                client = db.session.scalar(select(Client).where(Client.name == demo.CLIENT_NAME))
                host, client_id = agency.canonical_domain.host, client.id
        yield host, client_id  # outside the app context: the requests make their own
    finally:
        handle.stop()


def test_the_mailup_demo_clients_admin_sees_no_provider(app, seeded):
    host, _client_id = seeded
    http = HostClient(app, host)
    http.login(*demo.CLIENT_ADMIN)
    pages = _crawl(http, "/app/", data=TYPED)
    assert all(code < 500 for code in pages.values()), {p: c for p, c in pages.items() if c >= 500}
    for path in ("/app/campaigns", "/app/suppression"):
        assert pages.get(path) == 200, path
    assert any(p.startswith("/app/reports/campaigns/") and pages[p] == 200 for p in pages), sorted(pages)


def test_the_agency_owner_sees_no_provider_around_or_inside_the_mailup_client(app, seeded):
    host, client_id = seeded
    http = HostClient(app, host)
    http.login(*OWNER)
    detail = f"/agency/clients/{client_id}"
    around = _crawl(http, "/agency/", data=TYPED)
    assert around.get(detail) == 200
    assert http.post(f"{detail}/act", csrf_path=detail).status_code == 302  # work inside the client
    inside = _crawl(http, "/app/", data=TYPED)
    assert any(p.startswith("/app/reports/campaigns/") and inside[p] == 200 for p in inside), sorted(inside)
    assert all(code < 500 for code in {**around, **inside}.values())
