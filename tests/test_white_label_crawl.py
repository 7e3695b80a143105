"""White-label: crawl every page an agency owner and a client admin can reach; none may name the provider."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest

from .support import client_for

HREF = re.compile(r'href="([^"#]+)"')
PROVIDER = re.compile(r"mail\s*up", re.I)


def _crawl(http, start: str, limit: int = 400) -> dict[str, int]:
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
        assert not PROVIDER.search(body), f"{path} names the provider in its body"
        assert not PROVIDER.search(headers), f"{path} names the provider in its headers"
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
