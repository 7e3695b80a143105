"""Checklist D25: stored XSS and template injection. Every name a tenant can set that another role sees
(agency, client, list, field, segment, campaign and subject, sender name, staff name, a contact's field
value) holds a payload; every GET page reachable by links is crawled as every role (operator, agency
owner and staff, acting as the client, client admin, editor, viewer). No page may carry a payload
unescaped, and no template expression may have been evaluated.

The crawler follows links like tests/test_white_label_crawl.py; here it reads every HTML body."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Agency, Campaign, Client, Contact, Field, MailingList, Segment, SenderIdentity, User
from portal.tenancy import all_tenants

from .sending_support import make_campaign
from .support import client_for
from .test_white_label_crawl import HREF

# Short enough for every name column (80 characters and up); each carries one tag payload and one
# template expression whose evaluated form ("7777777", "<Config") cannot occur by chance.
PAYLOADS = (
    "<img src=x onerror=alert(1)>{{7*'7'}}",
    '"><svg onload=alert(1)>{{ config }}',
    "</script><script>alert(1)</script>",
    "{% for x in ().__class__.__base__.__subclasses__() %}X{% endfor %}<b>",
)
RAW = ("<img src=x onerror", "<svg onload=alert", "<script>alert(1)", "</script><script>", "<b>")
EVALUATED = ("7777777", "&lt;Config", "<Config")  # {{7*'7'}} and {{ config }} evaluated


def _seed(app, world) -> dict[str, str]:
    """Payloads into every tenant-set name; returns where each went (for the failure message)."""
    s = make_campaign(app, world, contacts=[("anna@example.org", "Anna")])
    placed = {}
    p = iter(PAYLOADS * 4)
    with app.app_context(), all_tenants():
        agency = db.session.get(Agency, s.agency_id)
        client = db.session.get(Client, s.client_id)
        lst = db.session.get(MailingList, s.list_id)
        field = db.session.scalars(select(Field).where(Field.client_id == s.client_id)).first()
        campaign = db.session.get(Campaign, s.campaign_id)
        sender = db.session.scalars(
            select(SenderIdentity).where(SenderIdentity.client_id == s.client_id)
        ).first()
        staff = db.session.get(User, world.user_ids["AG1.staff"])
        contact = db.session.scalars(select(Contact).where(Contact.client_id == s.client_id)).first()
        targets = [
            ("agency name", agency, "name"),
            ("client name", client, "name"),
            ("list name", lst, "name"),
            ("field label", field, "label"),
            ("campaign name", campaign, "name"),
            ("campaign subject", campaign, "subject"),
            ("sender name", sender, "name"),
            ("staff name", staff, "name"),
        ]
        for label, obj, attr in targets:
            value = next(p)
            setattr(obj, attr, value)
            placed[label] = value
        contact.fields = {**(contact.fields or {}), field.key: next(p)}
        placed["contact field"] = contact.fields[field.key]
        segment = Segment(
            agency_id=s.agency_id,
            client_id=s.client_id,
            name=next(p),
            rules={"match": "all", "conditions": []},
        )
        db.session.add(segment)
        placed["segment name"] = segment.name
        db.session.commit()
    return placed


def _crawl(http, starts: list[str], limit: int = 300) -> dict[str, str]:
    """GET every page reachable by links from `starts`; returns path -> HTML body."""
    pages: dict[str, str] = {}
    queue, seen = list(starts), set()
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        resp = http.get(path)
        assert resp.status_code < 500, f"{path}: {resp.status_code}"
        if resp.mimetype != "text/html":
            continue
        body = resp.get_data(as_text=True)
        pages[path] = body
        for href in HREF.findall(body):
            parts = urlsplit(urljoin(path, href.replace("&amp;", "&")))
            if parts.netloc or not parts.path.startswith("/") or parts.path.startswith("/static/"):
                continue
            if "logout" in parts.path or parts.path.endswith(("/result", ".csv")):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target not in seen:
                queue.append(target)
    return pages


def _problems(pages: dict[str, str]) -> list[str]:
    found = []
    for path, body in pages.items():
        for needle in RAW + EVALUATED:
            if needle in body:
                at = body.index(needle)
                found.append(f"{path}: {needle!r} in …{body[max(at - 60, 0) : at + 40]!r}…")
    return found


ROLES = [
    ("admin", ["/admin/", "/admin/agencies", "/admin/audit"]),
    ("AG1.owner", ["/agency/", "/account"]),
    ("AG1.staff", ["/agency/"]),
    ("A1.admin", ["/app/"]),
    ("A1.editor", ["/app/"]),
    ("A1.viewer", ["/app/"]),
]


@pytest.mark.parametrize("user_key,starts", ROLES, ids=[r[0] for r in ROLES])
def test_no_payload_comes_back_unescaped(app, world, user_key, starts):
    placed = _seed(app, world)
    http = client_for(app, world, user_key)
    pages = _crawl(http, starts)
    assert len(pages) >= 5, sorted(pages)
    # The crawl reached the payloads: escaped, they are on the pages (the test would see them if raw).
    escaped = "&lt;img src=x onerror=alert(1)&gt;"
    assert any(escaped in body for body in pages.values()), (placed, sorted(pages))
    assert _problems(pages) == []


def test_acting_as_the_client_shows_no_payload_unescaped(app, world):
    _seed(app, world)
    staff = client_for(app, world, "AG1.staff")
    a1 = world.client_ids["A1"]
    assert staff.post(f"/agency/clients/{a1}/act", csrf_path=f"/agency/clients/{a1}").status_code == 302
    pages = _crawl(staff, ["/app/"])
    assert len(pages) >= 5
    assert _problems(pages) == []
