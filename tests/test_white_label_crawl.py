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


def _provider_everywhere(app, world) -> None:
    """The operator names things after the provider; none of it may surface below the back-office."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import Client, Connection
    from portal.tenancy import bind_tenant

    ag1, a1 = world.agency_ids["AG1"], world.client_ids["A1"]
    with app.app_context(), bind_tenant(ag1):
        conn = Connection(
            agency_id=ag1, kind="mailup", name="MailUp production", options={"host": "services.mailup.com"}
        )
        db.session.add(conn)
        db.session.flush()
        db.session.scalar(select(Client).where(Client.id == a1)).email_connection_id = conn.id
        db.session.commit()


@pytest.mark.parametrize(
    "user_key,start", [("AG1.owner", "/agency/"), ("A1.admin", "/app/"), ("AG1.owner", "/account")]
)
def test_no_page_names_the_provider(app, world, user_key, start):
    _provider_everywhere(app, world)
    http = client_for(app, world, user_key)
    pages = _crawl(http, start)
    assert len(pages) >= 5, pages
    assert all(code < 500 for code in pages.values()), {p: c for p, c in pages.items() if c >= 500}
