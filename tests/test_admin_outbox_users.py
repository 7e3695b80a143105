"""Outbox of the capture server, and platform administrators."""

from __future__ import annotations

import re

from sqlalchemy import select

from portal.extensions import db
from portal.models import User
from portal.tenancy import all_tenants

from .support import ADMIN_HOST, ADMIN_TOTP_SECRET, PASSWORD, HostClient, client_for, enrol_totp, run_jobs
from .two_factor_support import enrol_through_pages

IFRAME = re.compile(r"<iframe[^>]*>")


def test_reset_email_opens_in_the_outbox(app, world, outbox):
    agency_host = HostClient(app, world.hosts["AG1"])
    resp = agency_host.post("/forgot", {"email": world.users["A1.admin"]})
    assert resp.status_code in (200, 302)
    run_jobs(app)
    assert len(outbox.to(world.users["A1.admin"])) == 1

    admin = client_for(app, world, "admin")
    listing = admin.get("/admin/outbox").get_data(as_text=True)
    assert world.users["A1.admin"] in listing and "Agency AG1" in listing
    message_id = re.search(r'href="/admin/outbox/([^"]+)"', listing).group(1)
    page = admin.get(f"/admin/outbox/{message_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Reset your password" in html and "Message-ID" in html
    assert "https://ag1.portal.test/reset/" in html  # text part and raw source
    # The HTML part only ever appears inside a sandboxed iframe, escaped into srcdoc.
    [iframe] = IFRAME.findall(html)
    assert " sandbox " in iframe and "allow-" not in iframe and "srcdoc=" in iframe
    assert "&lt;/html&gt;" in iframe.lower()


def test_html_part_cannot_run_in_the_page(app, world, outbox):
    import smtplib
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "x@ag1.portal.test", "y@example.test", "Hostile"
    msg.set_content("plain")
    msg.add_alternative('<p>hi</p><script>alert(1)</script><img src=x onerror="alert(2)">', subtype="html")
    s = app.config["PORTAL_SETTINGS"]
    with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)
    admin = client_for(app, world, "admin")
    message_id = re.search(r'href="/admin/outbox/([^"]+)"', admin.get("/admin/outbox").get_data(as_text=True))
    html = admin.get(f"/admin/outbox/{message_id.group(1)}").get_data(as_text=True)
    outside = IFRAME.sub("", html)
    assert "<script>alert(1)" not in outside and 'onerror="alert(2)"' not in outside
    assert "&lt;script&gt;alert(1)" in IFRAME.findall(html)[0]


def test_create_platform_admin_sends_a_link_to_choose_a_password(app, world, outbox):
    admin = client_for(app, world, "admin")
    resp = admin.post("/admin/users/new", {"email": "Ops@Portal.test", "name": "Ops"})
    assert resp.status_code == 302
    assert "ops@portal.test" in admin.get("/admin/users").get_data(as_text=True)
    run_jobs(app)
    [mail] = outbox.to("ops@portal.test")
    body = mail.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https?://admin\.portal\.test(/reset/\S+)", body).group(1)
    newbie = HostClient(app, ADMIN_HOST)
    resp = newbie.post(link, {"password": "a brand new passphrase", "confirm": "a brand new passphrase"})
    assert resp.status_code == 302
    newbie.login("ops@portal.test", "a brand new passphrase")
    # A new operator sets up two-factor sign-in before anything else.
    assert newbie.get("/admin/").location.endswith("/account/two-factor/setup")
    enrol_through_pages(newbie)
    assert newbie.get("/admin/").status_code == 200
    # Same address twice: refused, shown on the form.
    again = admin.post("/admin/users/new", {"email": "ops@portal.test", "name": ""})
    assert again.status_code == 200 and "exists already" in again.get_data(as_text=True)


def test_deactivate_platform_admin_but_not_yourself(app, world):
    with app.app_context(), all_tenants():
        other = User(agency_id=None, email="second@portal.test", name="Second", password_hash=None)
        db.session.add(other)
        db.session.commit()
        other_id, me = other.id, world.user_ids["admin"]
    admin = client_for(app, world, "admin")
    resp = admin.post(
        f"/admin/users/{me}/active", {"active": "0"}, csrf_path="/admin/users", follow_redirects=True
    )
    assert "You cannot deactivate yourself" in resp.get_data(as_text=True)
    resp = admin.post(f"/admin/users/{other_id}/active", {"active": "0"}, csrf_path="/admin/users")
    assert resp.status_code == 302
    with app.app_context(), all_tenants():
        assert db.session.scalar(select(User.active).where(User.id == other_id)) is False
        assert db.session.scalar(select(User.active).where(User.id == me)) is True
    # Agency users are not platform administrators: 404 here.
    owner_id = world.user_ids["AG1.owner"]
    assert (
        admin.post(f"/admin/users/{owner_id}/active", {"active": "0"}, csrf_path="/admin/users").status_code
        == 404
    )


def test_deactivated_admin_is_signed_out(app, world):
    with app.app_context(), all_tenants():
        from portal.passwords import hash_password

        other = User(agency_id=None, email="third@portal.test", password_hash=hash_password(PASSWORD))
        db.session.add(other)
        db.session.flush()
        enrol_totp(other, ADMIN_TOTP_SECRET)  # operators sign in with a second factor
        db.session.commit()
        other_id = other.id
    third = HostClient(app, ADMIN_HOST)
    third.login("third@portal.test")
    assert third.get("/admin/").status_code == 200
    client_for(app, world, "admin").post(
        f"/admin/users/{other_id}/active", {"active": "0"}, csrf_path="/admin/users"
    )
    assert third.get("/admin/").status_code == 302
