"""Campaign sending through the real pipeline: jobs, SMTP relay (the aiosmtpd capture server), DKIM."""

from __future__ import annotations

import threading

import dkim
import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Campaign, Client, Delivery
from portal.sending import control
from portal.services import DomainError
from portal.services import suppression as supp
from portal.tenancy import bind_tenant

from .sending_support import make_campaign
from .support import run_jobs

PEOPLE = [
    ("anna@example.org", "Anna"),
    ("bruno@example.org", "Bruno"),
    ("carla@example.org", ""),
    ("blocked@example.org", "Nope"),
]


def _start(app, s):
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        n = control.start_send(actor=None, client=client, campaign=campaign)
        db.session.commit()
        return n


def _suppress(app, s, email):
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        supp.add(
            actor=None, client=client, channel="email", raw_address=email, reason="unsubscribe", source="test"
        )
        db.session.commit()


def test_campaign_reaches_each_subscriber_once_signed_and_personalised(app, world, outbox):
    s = make_campaign(app, world, contacts=PEOPLE)
    _suppress(app, s, "blocked@example.org")
    assert _start(app, s) == 3
    run_jobs(app)
    messages = outbox.messages()
    assert sorted(str(m["To"]) for m in messages) == [
        "anna@example.org",
        "bruno@example.org",
        "carla@example.org",
    ]
    anna = outbox.to("anna@example.org")[0]
    assert anna["Subject"] == "Hi Anna"
    html = anna.get_body(("html",)).get_content()
    text_part = anna.get_body(("plain",)).get_content()
    assert "Hello Anna," in html and 'style="color: #2458d6;"' in html  # merge tag, CSS inlined
    assert "Hello Anna," in text_part and "Unsubscribe: https://ag1.portal.test/u/" in text_part
    assert "https://shop.example.com" not in html and "https://ag1.portal.test/c/" in html  # tracked link
    assert "/o/" in html  # open pixel
    assert "Hello there," in outbox.to("carla@example.org")[0].get_body(("html",)).get_content()
    # Headers of a bulk sender (RFC 8058, RFC 2369).
    unsub = anna["List-Unsubscribe"]
    assert unsub.startswith("<https://ag1.portal.test/u/") and "<mailto:unsubscribe+" in unsub
    assert anna["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert anna["List-Id"].endswith(".ag1.portal.test>") and anna["X-Send-Id"]
    assert anna["Message-ID"].endswith("@ag1.portal.test>")
    assert anna["X-Capture-Mail-From"].startswith("b+") and "@bounces." in anna["X-Capture-Mail-From"]
    # DKIM verifies with dkimpy and covers both List-Unsubscribe headers.
    raw = _raw_without_capture_headers(outbox, "anna@example.org")
    dns = {f"{s.selector}._domainkey.{s.domain}.".encode(): s.dkim_txt.encode()}
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: dns.get(name))
    signature = raw.split(b"\r\n", 1)[0].decode()
    assert "list-unsubscribe:list-unsubscribe-post" in signature
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert db.session.scalar(select(Campaign.status).where(Campaign.id == s.campaign_id)) == "sent"
        statuses = dict(
            db.session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
        )
        assert statuses == {"sent": 3}


def _raw_without_capture_headers(outbox, rcpt: str) -> bytes:
    for f in sorted(outbox.directory.glob("*.eml")):
        data = f.read_bytes()
        if rcpt.encode() in data.split(b"\r\n\r\n", 1)[0]:
            lines = data.split(b"\r\n")
            kept = [ln for ln in lines if not ln.startswith(b"X-Capture-")]
            return b"\r\n".join(kept)
    raise AssertionError(rcpt)


def test_two_concurrent_starts_send_once(app, world, outbox):
    s = make_campaign(app, world, contacts=PEOPLE[:2])
    results = []

    def attempt():
        try:
            results.append(_start(app, s))
        except DomainError as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, results)) == ["2", "This campaign is already being sent."]
    run_jobs(app)
    assert len(outbox.messages()) == 2


def test_unsubscribe_during_send_stops_later_messages(app, world, outbox):
    s = make_campaign(app, world, contacts=PEOPLE[:3])
    _start(app, s)
    _suppress(app, s, "bruno@example.org")  # after materialisation, before the worker runs
    run_jobs(app)
    assert sorted(str(m["To"]) for m in outbox.messages()) == ["anna@example.org", "carla@example.org"]
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        skipped = db.session.scalar(select(Delivery.address).where(Delivery.status == "skipped"))
    assert skipped == "bruno@example.org"


def test_quota_is_enforced_when_the_send_starts(app, world):
    s = make_campaign(app, world, contacts=PEOPLE[:3])
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        db.session.scalar(select(Client).where(Client.id == s.client_id)).email_quota_month = 2
        db.session.commit()
    with pytest.raises(DomainError, match="only 2 of the 2 emails"):
        _start(app, s)


def test_an_unverified_sender_domain_cannot_send(app, world):
    s = make_campaign(app, world, contacts=PEOPLE[:1])
    from portal.models import SenderDomain

    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        db.session.scalar(select(SenderDomain)).verified_at = None
        db.session.commit()
    with pytest.raises(DomainError, match="not verified"):
        _start(app, s)


def test_a_connection_that_cannot_send_campaigns_is_refused_at_start(app, world):
    from portal.models import Connection

    s = make_campaign(app, world, contacts=PEOPLE[:1])
    with app.app_context(), bind_tenant(s.agency_id):
        # (an SMS gateway bound where email goes: a provider-side `mailup` connection sends campaigns now)
        conn = Connection(agency_id=s.agency_id, kind="sms", name="API account", options={})
        db.session.add(conn)
        db.session.flush()
        db.session.scalar(select(Client).where(Client.id == s.client_id)).email_connection_id = conn.id
        db.session.commit()
    with pytest.raises(DomainError, match="cannot send email campaigns yet") as err:
        _start(app, s)
    assert "mailup" not in str(err.value).lower()
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert db.session.scalar(select(Campaign.status).where(Campaign.id == s.campaign_id)) == "draft"
