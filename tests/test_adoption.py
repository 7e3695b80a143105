"""Adopting an existing provider account, against the emulator over HTTP: the preview matches the account;
the adoption creates what the preview said; a second run changes nothing; every kind of opt-out becomes
a suppression with its reason and a campaign started afterwards leaves them out; consent dates come
along; groups become segments or lists; another agency's client cannot see or start it."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from portal.adoption.service import resume_stalled
from portal.backends.mailup.emulator.prefill import statuses
from portal.extensions import db
from portal.models import (
    AdoptionRecord,
    Campaign,
    Client,
    Connection,
    Contact,
    Delivery,
    MailingList,
    Subscription,
)
from portal.sending import control
from portal.services import senders
from portal.tenancy import bind_tenant

from .adoption_support import (  # noqa: F401 (fixtures)
    OPTOUT_REASONS,
    account_fixture,
    adoption_row,
    bound_client,
    portal_state,
    preview,
    start,
)
from .mailup_backend_support import ACCOUNT
from .sending_support import fake_dns
from .support import client_for, run_jobs
from .worker_processes import kill_worker, start_worker, worker_env


def _optout_addresses(account) -> dict[str, set[str]]:
    emails = {
        r.email.lower()
        for r in account.recipients.values()
        if r.email and "@" in r.email and any(s.status == "Unsubscribed" for s in r.email_subs.values())
    }
    numbers = {
        f"{r.mobile_prefix}{r.mobile_number}"
        for r in account.recipients.values()
        if r.mobile_number and any(s.status == "Unsubscribed" for s in r.sms_subs.values())
    }
    return {"email": emails, "sms": numbers}


def test_the_preview_matches_the_account_and_writes_nothing(app, world, account):
    url, handle, made = account
    ag, cid, conn = bound_client(app, world, url)
    before = portal_state(app, ag, cid)
    p = preview(app, ag, cid, conn)
    emulated = handle.state.account(ACCOUNT.username)
    (item,) = p["lists"]
    assert item["name"] == "Newsletter" and item["id"] == made["lists"]["Newsletter"]
    email, sms = statuses(emulated, item["id"]), statuses(emulated, item["id"], "sms")
    assert item["email"] == {k.lower(): v for k, v in email.items()}
    assert item["sms"] == {k.lower(): v for k, v in sms.items()}
    members = {
        g.name: sum(1 for r in emulated.recipients.values() if g.id in r.groups)
        for g in emulated.groups.values()
    }
    assert {g["name"]: g["members"] for g in item["groups"]} == members
    assert {f["id"]: f["name"] for f in p["fields"]} == emulated.fields
    kinds = {f["name"]: f["kind"] for f in p["fields"] if f["action"] == "create"}
    assert kinds == {
        "nome": "text",
        "cognome": "text",
        "città": "text",
        "TotaleFatturato": "number",
        "Compleanno": "date",
    }
    assert p["records"] == sum(email.values()) + sum(sms.values())
    assert portal_state(app, ag, cid) == before  # nothing written


def test_the_adoption_creates_what_the_preview_said_and_a_second_run_changes_nothing(app, world, account):
    url, handle, made = account
    ag, cid, conn = bound_client(app, world, url)
    first = start(app, ag, cid, conn)
    run_jobs(app)
    row = adoption_row(app, ag, cid, first)
    assert row.state == "done", row.error
    p = row.preview
    (item,) = p["lists"]
    after = portal_state(app, ag, cid)
    assert after["lists"] == ["Newsletter"]
    assert after["segments"] == ["Newsletter – Milano", "Newsletter – VIP"]
    created = {f["key"] for f in p["fields"] if f["action"] == "create"} | {"groups"}
    assert {key for _n, key, _k in after["fields"]} == created
    assert len(after["fields"]) == p["creates"]["fields"]
    assert len(after["segments"]) == p["creates"]["segments"]
    assert len(after["lists"]) == p["creates"]["lists"]
    subs = after["subscriptions"]
    email = {s: n for (lst, ch, s), n in subs.items() if ch == "email"}
    sms = {s: n for (lst, ch, s), n in subs.items() if ch == "sms"}
    invalid = 1  # "not-an-address" is subscribed at the provider and reported, not imported
    assert email["subscribed"] == item["email"]["subscribed"] - invalid
    assert email["pending"] == item["email"]["pending"]
    assert email["unsubscribed"] + email["bounced"] + email["complained"] == item["email"]["unsubscribed"]
    assert sms == {k: v for k, v in item["sms"].items() if v}
    # Field values typed, numbered as the provider numbers them (the binding maps N → N).
    with app.app_context(), bind_tenant(ag, cid):
        sara = db.session.scalar(select(Contact).where(Contact.email == "sub@example.org"))
        assert sara.fields == {"nome": "Sara", "citta": "Milano", "totalefatturato": 120, "groups": "|VIP|"}
        binding = db.session.scalar(select(Client).where(Client.id == cid))
    assert row.result["maps"]["fields"]["23"] == "totalefatturato"
    report = row.result
    assert report["contacts"]["created"] == after["contacts"]

    second = start(app, ag, cid, conn)
    run_jobs(app)
    again = adoption_row(app, ag, cid, second)
    assert again.state == "done", again.error
    assert again.result["contacts"]["created"] == 0 and again.result["contacts"]["updated"] == 0
    assert again.result["suppressions"]["added"] == {} and again.result["consent_dates"] == 0
    assert portal_state(app, ag, cid) == after
    assert binding is not None


def test_every_opt_out_is_suppressed_with_its_reason_and_a_later_campaign_leaves_them_out(
    app, world, account
):
    url, handle, _made = account
    ag, cid, conn = bound_client(app, world, url)
    start(app, ag, cid, conn)
    run_jobs(app)
    emulated = handle.state.account(ACCOUNT.username)
    optouts = _optout_addresses(emulated)
    state = portal_state(app, ag, cid)
    entries = state["suppressions"]
    assert {a for ch, a in entries if ch == "email"} == optouts["email"]
    assert {a for ch, a in entries if ch == "sms"} == {"+39" + n.removeprefix("+39") for n in optouts["sms"]}
    for address, reason in OPTOUT_REASONS.items():
        assert entries[("email", address)] == reason
    with app.app_context(), bind_tenant(ag, cid):
        client = db.session.scalar(select(Client).where(Client.id == cid))
        lst = db.session.scalar(select(MailingList).where(MailingList.client_id == cid))
        domain = senders.add_domain(actor=None, client=client, domain="news-a1.example.com")
        senders.check_domain(actor=None, d=domain, resolver=fake_dns(domain))
        sender = senders.add_identity(actor=None, client=client, name="News", email=f"hi@{domain.domain}")
        campaign = Campaign(
            agency_id=ag,
            client_id=cid,
            name="After the move",
            subject="Hello",
            html="<p>Hello {{ nome }}</p>",
            sender_id=sender.id,
            audience={"lists": [lst.id]},
        )
        db.session.add(campaign)
        db.session.commit()
        control.start_send(actor=None, client=client, campaign=campaign)
        db.session.commit()
        sent_to = set(db.session.scalars(select(Delivery.address).where(Delivery.campaign_id == campaign.id)))
    subscribed = {
        r.email.lower()
        for r in emulated.recipients.values()
        if r.email and "@" in r.email and any(s.status == "Subscribed" for s in r.email_subs.values())
    }
    assert sent_to == subscribed
    assert not sent_to & optouts["email"]


def test_consent_dates_and_ips_come_from_the_account(app, world, account):
    url, handle, _made = account
    ag, cid, conn = bound_client(app, world, url)
    start(app, ag, cid, conn)
    run_jobs(app)
    emulated = handle.state.account(ACCOUNT.username)
    r = next(r for r in emulated.recipients.values() if r.email == "sub@example.org")
    sub = next(iter(r.email_subs.values()))
    with app.app_context(), bind_tenant(ag, cid):
        stored = db.session.execute(
            select(Subscription.consent_at, Subscription.consent_ip, Subscription.consent_source)
            .join(Contact, Contact.id == Subscription.contact_id)
            .where(Contact.email == "sub@example.org", Subscription.channel == "email")
        ).one()
    assert stored.consent_at == datetime.fromtimestamp(int(sub.optin_date), UTC).replace(
        microsecond=stored.consent_at.microsecond
    )
    assert stored.consent_ip == "192.0.2.10" and stored.consent_source == "adoption"


def test_groups_can_become_lists(app, world, account):
    url, handle, _made = account
    ag, cid, conn = bound_client(app, world, url)
    start(app, ag, cid, conn, groups_as="lists")
    run_jobs(app)
    state = portal_state(app, ag, cid)
    assert state["lists"] == ["Newsletter", "Newsletter – Milano", "Newsletter – VIP"]
    assert state["segments"] == []
    emulated = handle.state.account(ACCOUNT.username)
    vip = next(g for g in emulated.groups.values() if g.name == "VIP")
    members = {r.email.lower() for r in emulated.recipients.values() if vip.id in r.groups and "@" in r.email}
    with app.app_context(), bind_tenant(ag, cid):
        in_list = set(
            db.session.scalars(
                select(Contact.email)
                .join(Subscription, Subscription.contact_id == Contact.id)
                .join(MailingList, MailingList.id == Subscription.list_id)
                .where(MailingList.name == "Newsletter – VIP", Subscription.channel == "email")
            )
        )
    assert in_list == members


def test_pages_are_white_label_and_another_agency_gets_404(app, world, account):
    url, _handle, _made = account
    ag, cid, conn = bound_client(app, world, url)
    owner = client_for(app, world, "AG1.owner")
    page = owner.get(f"/agency/clients/{cid}/previous-account")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Import from your previous provider account" in text
    assert "mailup" not in text.lower()
    resp = owner.post(
        f"/agency/clients/{cid}/previous-account", {"lists": "1", "groups_as": "segments", "action": "start"}
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    status_path = resp.location.replace("http://" + owner.host, "")
    assert "mailup" not in owner.get(status_path).get_data(as_text=True).lower()
    run_jobs(app)
    done = owner.get(status_path + ".json").get_json()
    assert done["state"] == "done" and done["result_url"]
    report = owner.get(done["result_url"])
    assert report.status_code == 200 and "mailup" not in report.get_data(as_text=True).lower()
    assert "suppression" in report.get_data(as_text=True)

    other = client_for(app, world, "AG2.owner")
    for path in (
        f"/agency/clients/{cid}/previous-account",
        status_path,
        status_path + ".json",
        status_path + "/report",
    ):
        assert other.get(path).status_code == 404, path
    before = portal_state(app, ag, cid)
    csrf = other.csrf("/agency/clients")
    blocked = other.post(
        f"/agency/clients/{cid}/previous-account", {"lists": "1", "action": "start", "csrf_token": csrf}
    )
    assert blocked.status_code == 404
    assert portal_state(app, ag, cid) == before


def test_a_killed_worker_resumes_from_its_cursor_without_duplicates(app, world, account):
    """A real worker process is SIGKILLed while it reads; the sweeper queues the adoption again once its
    lease has run out, a second worker resumes at the stored cursor, and everything is there once."""
    url, handle, _made = account
    ag, cid, conn = bound_client(app, world, url, rate_per_second=8)
    adoption_id = start(app, ag, cid, conn, page_size=5)
    worker = start_worker(worker_env(app))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            cursor = adoption_row(app, ag, cid, adoption_id).cursor
            if cursor.get("step", 0) >= 1:  # past the first step: some pages stored, most still to read
                break
            time.sleep(0.05)
        kill_worker(worker)
    finally:
        if worker.poll() is None:
            worker.kill()
    killed_at = adoption_row(app, ag, cid, adoption_id)
    assert killed_at.state == "reading" and killed_at.cursor["step"] < killed_at.preview["steps"]
    with app.app_context():
        assert resume_stalled() == []  # its lease still runs: nobody steals a live adoption
        queued = resume_stalled(datetime.now(UTC) + timedelta(minutes=5))
        db.session.commit()
    assert queued == [adoption_id]
    second = start_worker(worker_env(app))
    assert second.wait(180) == 0
    done = adoption_row(app, ag, cid, adoption_id)
    assert done.state == "done", done.error
    assert done.cursor["step"] == done.preview["steps"]
    emulated = handle.state.account(ACCOUNT.username)
    with app.app_context(), bind_tenant(ag, cid):
        emails = list(db.session.scalars(select(Contact.email).where(Contact.email.is_not(None))))
        records = db.session.scalar(
            select(func.count()).select_from(AdoptionRecord).where(AdoptionRecord.adoption_id == adoption_id)
        )
    assert len(emails) == len(set(emails))  # no contact twice
    valid = {r.email.lower() for r in emulated.recipients.values() if r.email and "@" in r.email}
    assert set(emails) == valid
    assert records == done.preview["records"]  # every recipient of every list and channel read once
    assert {a for ch, a in portal_state(app, ag, cid)["suppressions"] if ch == "email"} == _optout_addresses(
        emulated
    )["email"]


def test_a_provider_that_serves_smaller_pages_than_asked_is_read_to_the_end(app, world, account, monkeypatch):
    """MailUp does not state its largest page: the reading follows the pages it is given."""
    from portal.backends.mailup.emulator import query

    monkeypatch.setattr(query, "MAX_PAGE_SIZE", 6)
    url, _handle, _made = account
    ag, cid, conn = bound_client(app, world, url)
    adoption_id = start(app, ag, cid, conn, page_size=1000)
    run_jobs(app)
    done = adoption_row(app, ag, cid, adoption_id)
    assert done.state == "done", done.error
    with app.app_context(), bind_tenant(ag, cid):
        records = db.session.scalar(
            select(func.count()).select_from(AdoptionRecord).where(AdoptionRecord.adoption_id == adoption_id)
        )
    assert records == done.preview["records"]
    assert done.stats["calls"] > done.preview["calls"]  # the preview planned pages of 1,000


def test_the_lists_the_portal_sends_through_are_not_offered_for_adoption(app, world, account):
    """In a shared account each bound client has a list the portal made for its sends (recipients pushed
    per campaign, a group each): the preview leaves them out instead of offering them as new lists."""
    from portal.providers.binding import ensure_binding

    url, handle, made = account
    ag, cid, conn = bound_client(app, world, url)
    with app.app_context(), bind_tenant(ag, cid):
        client = db.session.get(Client, cid)
        binding = ensure_binding(client, db.session.get(Connection, conn))
        db.session.commit()
        sending_list = binding.list_id
    emulated = handle.state.account(ACCOUNT.username)
    assert sending_list in emulated.lists and sending_list != made["lists"]["Newsletter"]
    p = preview(app, ag, cid, conn)
    assert [item["id"] for item in p["lists"]] == [made["lists"]["Newsletter"]]


def test_a_list_of_the_account_a_client_is_bound_to_is_still_offered_for_adoption(app, world, account):
    """An adoption binds the client to the account's own list it imported (and a per-client account
    binds to list 1): that list is the previous provider's, not one the portal made, so the next preview
    still offers it (a second run then changes nothing instead of finding no list to import)."""
    from portal.providers.binding import ensure_binding

    url, _handle, made = account
    ag, cid, conn = bound_client(app, world, url)
    newsletter = made["lists"]["Newsletter"]
    with app.app_context(), bind_tenant(ag, cid):
        client = db.session.get(Client, cid)
        binding = ensure_binding(client, db.session.get(Connection, conn), list_id=newsletter)
        db.session.commit()
        assert binding.list_id == newsletter
    p = preview(app, ag, cid, conn)
    assert [item["id"] for item in p["lists"]] == [newsletter]


def test_the_preview_says_in_the_readers_language_why_a_field_stays_out(app, world, account):
    """The preview is stored as data: why a personal field is not imported and each field's type are
    words of the page (Italian here), not English text written into it."""
    from portal.models import Field

    url, _handle, _made = account
    ag, cid, conn = bound_client(app, world, url)
    with app.app_context(), bind_tenant(ag, cid):
        db.session.add(Field(agency_id=ag, client_id=cid, number=1, key="primo", label="Primo nome"))
        db.session.commit()
    p = preview(app, ag, cid, conn)
    (nome,) = [f for f in p["fields"] if f["id"] == 1]
    assert (nome["action"], nome["reason"], nome["portal_field"]) == ("skip", "number", "Primo nome")
    owner = client_for(app, world, "AG1.owner")
    owner.post("/language", {"lang": "it", "next": "/agency/"}, csrf_path="/agency/")
    text = owner.get(f"/agency/clients/{cid}/previous-account").get_data(as_text=True)
    assert "non importato: il numero 1 è il campo del portale “Primo nome”" in text
    assert "<td>Numero</td>" in text and "<td>number</td>" not in text  # TotaleFatturato
    # Counts agree with their nouns (this account brings one list), and a quick adoption is not "0.0 minutes"
    assert re.search(r"1 nuova lista,\s+2 nuovi segmenti,\s+5 nuovi campi", text)
    assert "meno di un minuto" in text and "0.0 minuti" not in text
