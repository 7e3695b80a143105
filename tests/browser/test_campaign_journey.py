"""Issue 4, the whole campaign journey in a real browser: a client admin creates a campaign from the newsletter
starter, sets subject, sender and list, saves, sends a test, reviews and sends it for real (a real RQ worker
delivers to the SMTP capture server); a recipient opens the List-Unsubscribe link of the message they got,
confirms, and the address shows up on the client's suppression list as a one-click unsubscribe."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import Client, Contact, MailingList, Subscription
from portal.services import senders
from portal.tenancy import bind_tenant

from ..sending_support import fake_dns
from ..support import run_jobs
from .pages import Dialogs, Portal

pytestmark = pytest.mark.browser

SUBSCRIBERS = ["anna@example.org", "bruno@example.org"]
OTHERS = ["zoe@example.org"]
TESTER = "me@example.net"
SENDER_LABEL = "Shop News <hello@news-a1.example.com>"
SUBJECT = "Our news for May"


def _seed(app, world) -> None:
    """Data setup through the services and the DB: a sender on a verified domain (DNS answered by a fake
    resolver with exactly the records the UI asks for), the list with two subscribers and a decoy list."""
    ag, cid = world.agency_ids["AG1"], world.client_ids["A1"]
    with app.app_context(), bind_tenant(ag, cid):
        client = db.session.scalar(select(Client).where(Client.id == cid))
        domain = senders.add_domain(actor=None, client=client, domain="news-a1.example.com")
        senders.check_domain(actor=None, d=domain, resolver=fake_dns(domain))
        assert domain.verified_at is not None
        senders.add_identity(actor=None, client=client, name="Shop News", email="hello@news-a1.example.com")
        for name, emails in (("Newsletter", SUBSCRIBERS), ("Partners", OTHERS)):
            lst = MailingList(agency_id=ag, client_id=cid, name=name)
            db.session.add(lst)
            db.session.flush()
            for email in emails:
                contact = Contact(agency_id=ag, client_id=cid, email=email, fields={})
                db.session.add(contact)
                db.session.flush()
                db.session.add(
                    Subscription(agency_id=ag, client_id=cid, list_id=lst.id, contact_id=contact.id)
                )
        db.session.commit()


def test_create_test_send_send_unsubscribe_and_see_suppression(
    app, page, live_server, world, outbox, screenshot
):
    _seed(app, world)
    host = world.hosts["AG1"]
    portal = Portal(page, live_server, host)
    portal.login(world.users["A1.admin"])

    # --- create from the newsletter starter ---
    portal.goto("/app/campaigns/new")
    page.get_by_label("Campaign name").fill("May newsletter")
    page.get_by_role("radio", name=re.compile(r"^\s*Newsletter")).check()
    page.get_by_role("button", name="Create campaign").click()
    portal.path_is(r"/app/campaigns/\d+$")
    expect(portal.flashes).to_contain_text("The campaign May newsletter is ready to write.")
    campaign_path = urlsplit(page.url).path
    expect(page.locator("textarea[name=html]")).not_to_have_value("")  # the starter's HTML

    # --- subject, sender, list; save ---
    # Typing the subject refreshes the live preview (a debounced POST). Let that answer arrive before saving:
    # its response refreshes the session cookie and, landing after the save, would drop the save's flash.
    with page.expect_response(lambda r: r.url.endswith("/preview") and r.request.method == "POST") as answer:
        page.get_by_label("Subject", exact=True).fill(SUBJECT)
    assert answer.value.ok
    expect(page.locator("[data-preview-subject]")).to_have_text(SUBJECT)
    page.get_by_label("Sender").select_option(label=SENDER_LABEL)
    page.get_by_test_id("audience-lists").get_by_label("Newsletter").check()
    page.get_by_role("button", name="Save", exact=True).click()
    portal.path_is(re.escape(campaign_path) + "$")
    expect(portal.flashes).to_contain_text("The campaign May newsletter is saved.")
    expect(page.get_by_label("Subject", exact=True)).to_have_value(SUBJECT)
    expect(page.get_by_test_id("audience-lists").get_by_label("Newsletter")).to_be_checked()
    expect(page.get_by_test_id("audience-lists").get_by_label("Partners")).not_to_be_checked()

    # --- test send ---
    page.get_by_label("Send a test to").fill(TESTER)
    page.get_by_role("button", name="Send test").click()
    expect(portal.flashes).to_contain_text(f"A test was sent to {TESTER}.")

    # --- review and send now ---
    page.get_by_test_id("review-link").click()
    portal.path_is(re.escape(campaign_path) + "/review$")
    expect(page.get_by_test_id("review-problem")).to_have_count(0)
    summary = page.get_by_test_id("review-summary")
    expect(summary).to_contain_text(SENDER_LABEL)
    expect(summary).to_contain_text(SUBJECT)
    expect(page.get_by_test_id("audience-count")).to_contain_text("2 contacts")
    dialogs = Dialogs(page)
    dialogs.answer_next(True)
    page.get_by_role("button", name="Send now").click()
    portal.path_is(re.escape(campaign_path) + "$")
    expect(portal.flashes).to_contain_text("Sending May newsletter to 2 recipients.")
    assert dialogs.seen == [("confirm", "Send May newsletter to 2 contacts now?")]

    run_jobs(app)  # a real RQ worker delivers to the SMTP capture server

    page.reload()
    expect(page.locator("[data-stat=sent]")).to_have_text("2")
    screenshot("sent")

    # --- the captured messages ---
    tests = outbox.to(TESTER)
    assert len(tests) == 1 and str(tests[0]["Subject"]).startswith("[Test]")
    assert sorted(str(m["To"]) for m in outbox.messages()) == sorted([*SUBSCRIBERS, TESTER])
    assert not outbox.to(OTHERS[0])
    (message,) = outbox.to("anna@example.org")
    assert str(message["Subject"]) == SUBJECT
    assert "hello@news-a1.example.com" in str(message["From"])
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    found = re.search(r"<(https://ag1\.portal\.test/u/[^>]+)>", str(message["List-Unsubscribe"]))
    assert found, message["List-Unsubscribe"]
    unsubscribe_url = live_server.url(host, urlsplit(found.group(1)).path)

    # --- the recipient (no session) opens the link and confirms ---
    portal.logout()
    portal.goto(urlsplit(unsubscribe_url).path)
    expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe")
    expect(page.locator("main, body").first).to_contain_text("anna@example.org")
    confirm = page.get_by_test_id("unsubscribe-confirm")
    with page.expect_response(lambda r: r.request.method == "POST" and "/u/" in r.url) as answer:
        confirm.click()
    assert answer.value.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
    screenshot("unsubscribed")

    # --- the client admin sees the address on the suppression list ---
    portal.login(world.users["A1.admin"])
    portal.goto("/app/suppression")
    table = page.get_by_test_id("suppression-table")
    row = table.locator("tr[data-entry]", has_text="anna@example.org")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("One-click unsubscribe")
    expect(table.locator("tr[data-entry]")).to_have_count(1)  # bruno only got the email
    screenshot("suppression")
