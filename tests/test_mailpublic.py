"""What recipients touch: one-click unsubscribe (RFC 8058, checks 42–43), preferences, open pixel, click
redirect, view in browser, library images — on real sends through the capture server."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlalchemy import func, select

from portal.extensions import db
from portal.mail import tokens
from portal.models import Campaign, Client, Delivery, Event, ImageAsset, Subscription, Suppression
from portal.sending import control
from portal.services import suppression as supp
from portal.tenancy import bind_tenant

from .sending_support import make_campaign
from .support import HostClient, run_jobs

PEOPLE = [("anna@example.org", "Anna"), ("bruno@example.org", "Bruno")]
NONCE = re.compile(r'nonce="[^"]*"')


def _start(app, s) -> None:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        control.start_send(actor=None, client=client, campaign=campaign)
        db.session.commit()


def _sent(app, world, outbox, contacts=PEOPLE, client_key="A1", **kw):
    s = make_campaign(app, world, contacts=contacts, client_key=client_key, **kw)
    _start(app, s)
    run_jobs(app)
    return s


def _links(outbox, email: str, host: str = "ag1.portal.test") -> dict[str, str]:
    """Paths of the recipient's own links, taken from the message they received."""
    msg = next(m for m in outbox.to(email) if host in str(m["Message-ID"]))
    unsub = re.search(r"<https://([^/>]+)(/u/[^>]+)>", msg["List-Unsubscribe"])
    assert unsub.group(1) == host
    html = msg.get_body(("html",)).get_content()
    found = {"u": unsub.group(2)}
    for kind in ("p", "v", "o", "c"):
        m = re.search(rf"https://{re.escape(host)}(/{kind}/[A-Za-z0-9_\-]+(?:\.gif|/\d+)?)", html)
        if m:
            found[kind] = m.group(1)
    return found


def _anonymous(app, host="ag1.portal.test") -> HostClient:
    return HostClient(app, host)  # a fresh client: no cookies, no session, no CSRF token


def _state(app, s) -> dict:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        return {
            "suppressions": sorted(
                db.session.execute(select(Suppression.address, Suppression.reason, Suppression.source)).all()
            ),
            "subscriptions": sorted(db.session.execute(select(Subscription.id, Subscription.status)).all()),
            "events": sorted(
                db.session.execute(select(Event.kind, Event.delivery_id, Event.provider_event_id)).all()
            ),
        }


def _tamper(token: str) -> str:
    i = len(token) // 2
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]


# --- check 42: one-click semantics ---------------------------------------------------------------------


def test_one_click_urlencoded_then_multipart_answer_200_without_redirect_and_are_idempotent(
    app, world, outbox
):
    s = _sent(app, world, outbox)
    anna, bruno = _links(outbox, "anna@example.org"), _links(outbox, "bruno@example.org")
    c = _anonymous(app)

    resp = c.http.post(
        f"http://{c.host}{anna['u']}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status_code == 200 and "Location" not in resp.headers
    assert "You are unsubscribed" in resp.get_data(as_text=True)
    after_first = _state(app, s)
    assert ("anna@example.org", "list_unsubscribe", "one-click") in after_first["suppressions"]
    unsub_events = [e for e in after_first["events"] if e[0] == "unsubscribe"]
    assert len(unsub_events) == 1

    again = c.http.post(
        f"http://{c.host}{anna['u']}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert again.status_code == 200 and "Location" not in again.headers
    assert _state(app, s) == after_first  # nothing more

    multi = c.http.post(
        f"http://{c.host}{bruno['u']}",
        data={"List-Unsubscribe": "One-Click"},
        content_type="multipart/form-data",
    )
    assert multi.status_code == 200 and "Location" not in multi.headers
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        statuses = dict(
            db.session.execute(
                select(Delivery.address, Subscription.status).join(
                    Subscription, Subscription.contact_id == Delivery.contact_id
                )
            ).all()
        )
        assert statuses == {"anna@example.org": "unsubscribed", "bruno@example.org": "unsubscribed"}
        assert db.session.scalar(select(func.count(Event.id)).where(Event.kind == "unsubscribe")) == 2


def test_get_and_head_show_a_page_and_change_nothing(app, world, outbox):
    s = _sent(app, world, outbox)
    anna = _links(outbox, "anna@example.org")
    c = _anonymous(app)
    before = _state(app, s)
    page = c.get(anna["u"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "anna@example.org" in html and "Agency AG1" in html  # branded like the login page
    assert f'action="{anna["u"]}"' in html and 'method="post"' in html
    head = c.http.head(f"http://{c.host}{anna['u']}")
    assert head.status_code == 200 and head.get_data() == b""
    assert _state(app, s) == before
    # The page's own button is a plain form POST without a CSRF token: it works.
    button = c.http.post(f"http://{c.host}{anna['u']}", data={"List-Unsubscribe": "One-Click"})
    assert button.status_code == 200 and _state(app, s) != before


def test_tampered_unknown_and_foreign_tokens_are_404(app, world, outbox):
    s = _sent(app, world, outbox)
    anna = _links(outbox, "anna@example.org")
    token = anna["u"].rsplit("/", 1)[1]
    c = _anonymous(app)
    before = _state(app, s)
    tampered = c.http.post(f"http://{c.host}/u/{_tamper(token)}", data={"List-Unsubscribe": "One-Click"})
    unknown = c.http.post(f"http://{c.host}/u/{'x' * len(token)}", data={"List-Unsubscribe": "One-Click"})
    assert tampered.status_code == unknown.status_code == 404
    assert NONCE.sub("", tampered.get_data(as_text=True)) == NONCE.sub("", unknown.get_data(as_text=True))
    with app.app_context():
        other_purpose = tokens.make("view", int(_delivery_ids(app, s)["anna@example.org"]))
        no_such_delivery = tokens.make("unsubscribe", 10**9)
    assert c.http.post(f"http://{c.host}/u/{other_purpose}").status_code == 404
    assert c.get(f"/u/{no_such_delivery}").status_code == 404
    # A1's token on AG2's host: 404, nothing changes.
    ag2 = _anonymous(app, world.hosts["AG2"])
    for method in ("get", "post"):
        assert getattr(ag2.http, method)(f"http://{ag2.host}{anna['u']}").status_code == 404
    for kind in ("p", "v", "o", "c"):
        assert ag2.get(anna[kind]).status_code == 404
    assert _state(app, s) == before


def test_test_send_tokens_show_a_harmless_page(app, world):
    with app.app_context():
        unsub, view, pixel = tokens.make("unsubscribe", 0), tokens.make("view", 0), tokens.make("open", 0)
    c = _anonymous(app)
    for resp in (c.get(f"/u/{unsub}"), c.http.post(f"http://{c.host}/u/{unsub}"), c.get(f"/v/{view}")):
        assert resp.status_code == 200 and "This is a test message" in resp.get_data(as_text=True)
    assert c.get(f"/o/{pixel}.gif").mimetype == "image/gif"


# --- check 43: unsubscribe during a running send, scope per tenant -------------------------------------


def _delivery_ids(app, s) -> dict[str, int]:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        return dict(db.session.execute(select(Delivery.address, Delivery.id)).all())


def test_unsubscribe_during_a_send_stops_later_messages_and_other_tenants_keep_sending(app, world, outbox):
    a1 = make_campaign(app, world, contacts=PEOPLE)
    b1 = make_campaign(app, world, contacts=PEOPLE, client_key="B1")
    _start(app, a1)  # two deliveries pending, the worker has not run yet
    ids = _delivery_ids(app, a1)
    with app.app_context():
        token = tokens.make("unsubscribe", ids["bruno@example.org"])
    resp = _anonymous(app).http.post(
        f"http://ag1.portal.test/u/{token}", data={"List-Unsubscribe": "One-Click"}
    )
    assert resp.status_code == 200
    run_jobs(app)
    assert [str(m["To"]) for m in outbox.messages()] == ["anna@example.org"]
    with app.app_context(), bind_tenant(a1.agency_id, a1.client_id):
        assert db.session.scalar(select(Delivery.status).where(Delivery.id == ids["bruno@example.org"])) == (
            "skipped"
        )
    # The same address in B1 keeps receiving B1's mail.
    _start(app, b1)
    run_jobs(app)
    assert sorted(str(m["To"]) for m in outbox.messages() if "ag2.portal.test" in str(m["Message-ID"])) == [
        "anna@example.org",
        "bruno@example.org",
    ]


# --- preferences ---------------------------------------------------------------------------------------


def test_preferences_leave_rejoin_and_leave_everything(app, world, outbox):
    s = _sent(app, world, outbox)
    anna = _links(outbox, "anna@example.org")
    c = _anonymous(app)
    page = c.get(anna["p"]).get_data(as_text=True)
    assert "Newsletter" in page and "anna@example.org" in page and "Leave" in page

    def sub_status():
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            return db.session.scalar(
                select(Subscription.status)
                .join(Delivery, Delivery.contact_id == Subscription.contact_id)
                .where(Delivery.address == "anna@example.org")
            )

    leave = c.http.post(f"http://{c.host}{anna['p']}", data={"action": "unsubscribe", "list_id": s.list_id})
    assert leave.status_code == 303 and urlsplit(leave.location).path == anna["p"]
    assert sub_status() == "unsubscribed"
    assert "Join again" in c.get(anna["p"]).get_data(as_text=True)
    rejoin = c.http.post(f"http://{c.host}{anna['p']}", data={"action": "subscribe", "list_id": s.list_id})
    assert rejoin.status_code == 303 and sub_status() == "subscribed"
    # Another client's list id is not hers to touch.
    other = make_campaign(app, world, contacts=[("zed@example.org", "")], client_key="A2")
    assert (
        c.http.post(
            f"http://{c.host}{anna['p']}", data={"action": "unsubscribe", "list_id": other.list_id}
        ).status_code
        == 404
    )
    everything = c.http.post(f"http://{c.host}{anna['p']}", data={"action": "all"})
    assert everything.status_code == 303 and sub_status() == "unsubscribed"
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert db.session.scalar(select(Suppression.reason)) == "unsubscribe"
        assert db.session.scalar(select(func.count(Event.id)).where(Event.kind == "unsubscribe")) == 2
    # Her own unsubscribe does not stop her from joining again (the entry she made is lifted).
    c.http.post(f"http://{c.host}{anna['p']}", data={"action": "subscribe", "list_id": s.list_id})
    assert sub_status() == "subscribed"
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert db.session.scalar(select(func.count(Suppression.id))) == 0


def test_preferences_cannot_rejoin_after_a_hard_bounce(app, world, outbox):
    s = _sent(app, world, outbox)
    anna = _links(outbox, "anna@example.org")
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        supp.add(
            actor=None,
            client=client,
            channel="email",
            raw_address="anna@example.org",
            reason="hard_bounce",
            source="bounce",
        )
        db.session.commit()
    c = _anonymous(app)
    resp = c.http.post(
        f"http://{c.host}{anna['p']}",
        data={"action": "subscribe", "list_id": s.list_id},
        follow_redirects=True,
    )
    assert "cannot receive" in resp.get_data(as_text=True)
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        status = db.session.scalar(
            select(Subscription.status)
            .join(Delivery, Delivery.contact_id == Subscription.contact_id)
            .where(Delivery.address == "anna@example.org")
        )
        assert status == "bounced"
        assert db.session.scalar(select(Suppression.reason)) == "hard_bounce"


# --- tracking ------------------------------------------------------------------------------------------


def test_open_pixel_is_a_gif_never_cached_and_counts_each_request(app, world, outbox):
    s = _sent(app, world, outbox)
    anna = _links(outbox, "anna@example.org")
    c = _anonymous(app)
    first, second = c.get(anna["o"]), c.get(anna["o"])
    assert first.status_code == 200 and first.mimetype == "image/gif"
    assert len(first.get_data()) == 43 and first.get_data().startswith(b"GIF89a")
    assert first.headers["Cache-Control"] == "no-store" and second.status_code == 200
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        opens = db.session.execute(select(Event.delivery_id).where(Event.kind == "open")).scalars().all()
    assert len(opens) == 2 and len(set(opens)) == 1
    token = anna["o"].split("/")[2].removesuffix(".gif")
    assert c.get(f"/o/{_tamper(token)}.gif").status_code == 404


def test_click_redirects_only_to_the_campaigns_own_links(app, world, outbox):
    s = _sent(app, world, outbox)
    anna = _links(outbox, "anna@example.org")
    c = _anonymous(app)
    resp = c.get(anna["c"] + "?url=https://evil.example/&next=https://evil.example/")
    assert resp.status_code == 302
    assert resp.location == "https://shop.example.com/sale?utm=1&x=2"
    base = anna["c"].rsplit("/", 1)[0]
    assert c.get(f"{base}/1").status_code == 404  # the campaign has one link
    assert c.get(f"{base}/999999").status_code == 404
    assert c.get(f"/c/{_tamper(base.split('/')[2])}/0").status_code == 404
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        clicks = db.session.execute(select(Event.detail, Event.link_index).where(Event.kind == "click")).all()
    assert clicks == [("https://shop.example.com/sale?utm=1&x=2", 0)]


def test_view_in_browser_is_sandboxed_personal_and_not_counted_as_an_open(app, world, outbox):
    html = (
        "<html><body><p>Hello {{ first_name }}</p><script>alert(document.cookie)</script>"
        '<a href="https://shop.example.com/x">x</a></body></html>'
    )
    s = _sent(app, world, outbox, html=html)
    anna = _links(outbox, "anna@example.org")
    c = _anonymous(app)
    resp = c.get(anna["v"])
    assert resp.status_code == 200
    assert resp.headers["Content-Security-Policy"] == (
        "sandbox; default-src 'none'; img-src * data:; style-src 'unsafe-inline'"
    )
    body = resp.get_data(as_text=True)
    assert "Hello Anna" in body and "/o/" not in body
    assert "https://ag1.portal.test/c/" in body  # links still go through the tracked redirect
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert db.session.scalar(select(func.count(Event.id)).where(Event.kind == "open")) == 0
    # Only this response is sandboxed: the portal's other pages keep their normal policy.
    assert "sandbox" not in c.get(anna["u"]).headers["Content-Security-Policy"]


def test_library_images_are_served_by_token_within_the_host_agency(app, world):
    ag, cid = world.agency_ids["AG1"], world.client_ids["A1"]
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    with app.app_context(), bind_tenant(ag, cid):
        db.session.add(
            ImageAsset(
                agency_id=ag,
                client_id=cid,
                token="Zq8Lx0Tn3VbR7kWc",
                name="a.png",
                mime="image/png",
                data=png,
            )
        )
        db.session.add(
            ImageAsset(
                agency_id=ag,
                client_id=cid,
                token="Hh2Ss9Vv4Gg1Pp0Q",
                name="x.svg",
                mime="image/svg+xml",
                data=b"<svg/>",
            )
        )
        db.session.commit()
    c = _anonymous(app)
    resp = c.get("/img/Zq8Lx0Tn3VbR7kWc")
    assert resp.status_code == 200 and resp.get_data() == png and resp.mimetype == "image/png"
    assert "max-age=31536000" in resp.headers["Cache-Control"]
    assert resp.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    svg = c.get("/img/Hh2Ss9Vv4Gg1Pp0Q")
    assert svg.mimetype == "application/octet-stream" and svg.headers["Content-Disposition"] == "attachment"
    assert _anonymous(app, world.hosts["AG2"]).get("/img/Zq8Lx0Tn3VbR7kWc").status_code == 404
    assert c.get("/img/nope").status_code == 404


def test_a_signed_in_user_of_another_client_can_still_use_a_recipient_link(app, world, outbox):
    """The request binds the visitor's own client (A2); the delivery lookup uses the host's agency only."""
    from .support import client_for

    s = _sent(app, world, outbox)
    anna = _links(outbox, "anna@example.org")
    other = client_for(app, world, "A2.admin")
    assert other.get(anna["u"]).status_code == 200
    resp = other.http.post(f"http://{other.host}{anna['u']}", data={"List-Unsubscribe": "One-Click"})
    assert resp.status_code == 200
    assert ("anna@example.org", "list_unsubscribe", "one-click") in _state(app, s)["suppressions"]
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A2"]):
        assert db.session.scalar(select(func.count(Suppression.id))) == 0
