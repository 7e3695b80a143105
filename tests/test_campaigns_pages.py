"""Campaign pages: list, compose, preview (isolated), test send, send now, schedule, pause/resume/cancel,
duplicate/delete, roles and tenants."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Campaign, Client, Delivery, MailingList
from portal.sending import sweeper
from portal.tenancy import bind_tenant

from .sending_support import make_campaign
from .support import client_for, csrf_from, run_jobs

PEOPLE = [("anna@example.org", "Anna"), ("bruno@example.org", "Bruno"), ("carla@example.org", "")]


def _campaign(app, s) -> Campaign:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        c = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        db.session.expunge(c)
        return c


def _update(app, s, **values):
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        c = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        for k, v in values.items():
            setattr(c, k, v)
        db.session.commit()


def _compose_data(s, **over) -> dict:
    data = {
        "name": "Spring sale",
        "subject": "Hi {{ first_name | default('there') }}",
        "preheader": "Twenty per cent off",
        "sender_id": "",
        "reply_to": "",
        "lists": [str(s.list_id)],
        "track_opens": "y",
        "track_clicks": "y",
        "html": "<html><body><p>Hello {{ first_name | default('there') }}</p></body></html>",
        "text": "",
        "save": "Save",
    }
    data.update(over)
    return data


def _sender_id(app, s) -> int:
    return _campaign(app, s).sender_id


def test_empty_list_invites_the_first_campaign_and_starters_fill_the_editor(app, world):
    c = client_for(app, world, "A1.admin")
    page = c.get("/app/campaigns").get_data(as_text=True)
    assert "Create your first campaign" in page and "/app/campaigns/new" in page
    resp = c.post("/app/campaigns/new", {"name": "May news", "starter": "newsletter"})
    assert resp.status_code == 302
    edit = c.get(resp.location)
    body = edit.get_data(as_text=True)
    assert edit.status_code == 200 and "May news" in body
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        camp = db.session.scalar(select(Campaign).where(Campaign.name == "May news"))
        assert camp.status == "draft"
        assert "{{ unsubscribe_url }}" in camp.html and "{{ view_url }}" in camp.html
        assert "<table" in camp.html and "@media" in camp.html
    listing = c.get("/app/campaigns").get_data(as_text=True)
    assert "May news" in listing and "Draft" in listing
    assert "Create your first campaign" not in listing
    assert "May news" not in c.get("/app/campaigns?status=sent").get_data(as_text=True)


def test_every_starter_renders_and_keeps_the_footer_links(app, world):
    from portal.services import campaigns as svc

    with app.test_request_context():
        for key in svc.STARTERS:
            html = svc.starter_html(key)
            assert "{{ unsubscribe_url }}" in html and "{{ view_url }}" in html, key
            out = svc.render_preview(
                subject="S", preheader="P", html=html, text=None, values={"email": "x@y.z"}
            )
            assert out["error"] == "" and "#unsubscribe" in out["html"], key


def test_compose_saves_fields_audience_and_text(app, world):
    s = make_campaign(app, world, contacts=PEOPLE)
    c = client_for(app, world, "A1.editor")
    path = f"/app/campaigns/{s.campaign_id}"
    resp = c.post(path, _compose_data(s, sender_id=str(_sender_id(app, s)), reply_to="help@example.org"))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    camp = _campaign(app, s)
    assert camp.preheader == "Twenty per cent off" and camp.reply_to == "help@example.org"
    assert camp.audience["lists"] == [s.list_id] and camp.audience["exclude_lists"] == []
    assert camp.text.strip().startswith("Hello") and not camp.text_edited
    # An edited plain text is kept; "regenerate" brings the generated one back.
    c.post(path, _compose_data(s, text="My own words", text_edited="y"))
    assert _campaign(app, s).text == "My own words" and _campaign(app, s).text_edited
    c.post(path, _compose_data(s, text="My own words", text_edited="y", save="", regenerate="1"))
    camp = _campaign(app, s)
    assert not camp.text_edited and "Hello" in camp.text
    page = c.get(path).get_data(as_text=True)
    assert "{{ first_name | default(&#34;…&#34;) }}" in page  # merge tag help lists the custom field
    assert "{{ email }}" in page


def test_preheader_goes_into_the_sent_message_hidden(app, world, outbox):
    s = make_campaign(app, world, contacts=PEOPLE[:1])
    _update(app, s, preheader="Sale ends {{ first_name }}")
    c = client_for(app, world, "A1.admin")
    assert (
        c.post(
            f"/app/campaigns/{s.campaign_id}/send", csrf_path=f"/app/campaigns/{s.campaign_id}/review"
        ).status_code
        == 302
    )
    run_jobs(app)
    html = outbox.to("anna@example.org")[0].get_body(("html",)).get_content()
    assert "display:none" in html.replace(" ", "") and "Sale ends Anna" in html
    assert html.index("Sale ends Anna") < html.index("Hello Anna")


def test_template_errors_are_reported_with_their_line(app, world):
    s = make_campaign(app, world, contacts=PEOPLE)
    c = client_for(app, world, "A1.admin")
    path = f"/app/campaigns/{s.campaign_id}"
    broken = "<html>\n<body>\n<p>{{ first_name </p>\n</body></html>"
    resp = c.post(path, _compose_data(s, html=broken), follow_redirects=True)
    body = resp.get_data(as_text=True)
    assert "line 3" in body
    assert _campaign(app, s).html != broken  # nothing saved
    token = csrf_from(c.get(path).get_data(as_text=True))
    answer = c.http.post(
        f"http://{c.host}{path}/preview",
        data=json.dumps({"subject": "x", "html": broken}),
        headers={"X-CSRFToken": token, "Content-Type": "application/json"},
    ).get_json()
    assert "line 3" in answer["error"] and answer["html"] == ""


def test_preview_endpoint_fills_merge_tags_with_sample_values(app, world):
    s = make_campaign(app, world, contacts=PEOPLE)
    c = client_for(app, world, "A1.viewer")  # reading is enough to preview
    path = f"/app/campaigns/{s.campaign_id}"
    token = csrf_from(c.get("/account").get_data(as_text=True))
    resp = c.http.post(
        f"http://{c.host}{path}/preview",
        data=json.dumps(
            {
                "subject": "Hi {{ first_name | default('there') }}",
                "preheader": "Just for {{ first_name }}",
                "html": "<html><body><p>Hello {{ first_name }} at {{ email }}</p></body></html>",
            }
        ),
        headers={"X-CSRFToken": token, "Content-Type": "application/json"},
    )
    data = resp.get_json()
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert data["subject"] == "Hi Alex" and "Hello Alex at alex.morgan@example.com" in data["html"]
    assert "Just for Alex" in data["html"] and "Hello Alex at" in data["text"]
    assert data["generated_text"].strip() == "Hello {{ first_name }} at {{ email }}"  # the editable source
    # Without the token the JSON endpoint refuses (CSRF).
    no_token = c.http.post(f"http://{c.host}{path}/preview", json={"html": "x"})
    assert no_token.status_code == 400


SCRIPT = "<script>parent.document.body.innerHTML='pwned'</script>"


def test_campaign_script_only_ever_appears_inside_the_sandboxed_srcdoc(app, world):
    html = f'<html><body><p>Hi</p>{SCRIPT}<img src=x onerror="alert(1)"></body></html>'
    s = make_campaign(app, world, contacts=PEOPLE, html=html)
    c = client_for(app, world, "A1.admin")
    for path in (f"/app/campaigns/{s.campaign_id}",):
        resp = c.get(path)
        body = resp.get_data(as_text=True)
        assert "<script>parent" not in body and 'onerror="alert' not in body
        frames = re.findall(r"<iframe\b[^>]*>", body)
        assert len(frames) == 1
        frame = frames[0]
        assert re.search(r"\bsandbox\b(?!=)", frame) and "allow-" not in frame
        assert "&lt;script&gt;parent.document" in frame  # the preview lives in the srcdoc attribute
        csp = resp.headers["Content-Security-Policy"]
        assert (
            "script-src 'self' 'nonce-" in csp
            and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        )
        assert "frame-ancestors 'none'" in csp
    # The read-only page of a sent campaign is just as careful.
    _update(app, s, status="sent")
    body = c.get(f"/app/campaigns/{s.campaign_id}").get_data(as_text=True)
    assert "<script>parent" not in body and "&lt;script&gt;parent.document" in body
    assert 'name="html"' not in body  # read-only: no editor


def test_duplicate_makes_a_draft_and_only_drafts_can_be_deleted(app, world):
    s = make_campaign(app, world, contacts=PEOPLE)
    _update(app, s, status="sent")
    c = client_for(app, world, "A1.editor")
    resp = c.post(f"/app/campaigns/{s.campaign_id}/duplicate", csrf_path="/app/campaigns")
    assert resp.status_code == 302
    new_id = int(resp.location.rstrip("/").rsplit("/", 1)[1])
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        copy = db.session.scalar(select(Campaign).where(Campaign.id == new_id))
        assert copy.status == "draft" and copy.name == "Copy of Spring sale"
        assert copy.html == _campaign(app, s).html and copy.audience == {"lists": [s.list_id]}
    # The sent original cannot be deleted; the draft copy can.
    c.post(f"/app/campaigns/{s.campaign_id}/delete", csrf_path="/app/campaigns")
    assert _campaign(app, s).status == "sent"
    assert c.post(f"/app/campaigns/{new_id}/delete", csrf_path="/app/campaigns").status_code == 302
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert db.session.scalar(select(Campaign).where(Campaign.id == new_id)) is None


def test_audience_with_a_foreign_list_is_refused(app, world):
    s = make_campaign(app, world, contacts=PEOPLE)
    ag, a2 = world.agency_ids["AG1"], world.client_ids["A2"]
    with app.app_context(), bind_tenant(ag, a2):
        foreign = MailingList(agency_id=ag, client_id=a2, name="A2 list")
        db.session.add(foreign)
        db.session.commit()
        foreign_id = foreign.id
    c = client_for(app, world, "A1.admin")
    for key in ("lists", "exclude_lists"):
        resp = c.post(f"/app/campaigns/{s.campaign_id}", _compose_data(s, **{key: [str(foreign_id)]}))
        assert resp.status_code == 200  # the form comes back with an error
        assert "is not a valid choice" in resp.get_data(as_text=True)
        assert foreign_id not in (_campaign(app, s).audience or {}).get(key, [])
    # The service refuses too (not only the form's choices).
    from portal.services import DomainError
    from portal.services import campaigns as svc

    with app.test_request_context(), bind_tenant(ag, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        camp = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        values = svc.CampaignValues(name="x", audience={"lists": [foreign_id]})
        try:
            svc.update_campaign(actor=None, client=client, campaign=camp, values=values)
        except DomainError as exc:
            assert "does not exist" in str(exc)
        else:
            raise AssertionError("a foreign list was accepted")


def test_test_send_reaches_the_relay_with_test_subject(app, world, outbox):
    s = make_campaign(app, world, contacts=PEOPLE)
    c = client_for(app, world, "A1.editor")
    path = f"/app/campaigns/{s.campaign_id}/test"
    resp = c.post(
        path, {"addresses": "me@example.net, boss@example.net"}, csrf_path=f"/app/campaigns/{s.campaign_id}"
    )
    assert resp.status_code == 302
    assert "A test was sent" in c.get(f"/app/campaigns/{s.campaign_id}").get_data(as_text=True)
    got = outbox.to("me@example.net")
    assert len(got) == 1 and len(outbox.to("boss@example.net")) == 1
    msg = got[0]
    assert msg["Subject"] == "[Test] Hi Anna"  # the first contact of the audience
    assert msg["List-Unsubscribe"].startswith("<https://ag1.portal.test/u/") and msg["X-Send-Id"]
    assert "Hello Anna" in msg.get_body(("html",)).get_content()
    # Nobody real is behind the test's links: they are built for delivery id 0.
    from portal.mail import tokens

    with app.app_context():
        unsub = msg["List-Unsubscribe"].split("/u/")[1].split(">")[0]
        assert tokens.read("unsubscribe", unsub) == (0,)
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0
        assert _campaign(app, s).status == "draft"


def test_test_send_names_the_bad_address_and_caps_at_five(app, world, outbox):
    s = make_campaign(app, world, contacts=PEOPLE)
    c = client_for(app, world, "A1.admin")
    path = f"/app/campaigns/{s.campaign_id}/test"
    page = f"/app/campaigns/{s.campaign_id}"
    c.post(path, {"addresses": "ok@example.net, not-an-address"}, csrf_path=page)
    assert "not-an-address is not a valid email address" in c.get(page).get_data(as_text=True)
    six = ", ".join(f"p{i}@example.net" for i in range(6))
    c.post(path, {"addresses": six}, csrf_path=page)
    assert "at most 5 addresses" in c.get(page).get_data(as_text=True)
    assert outbox.messages() == []


def test_review_send_now_and_recipients_receive(app, world, outbox):
    s = make_campaign(app, world, contacts=PEOPLE)
    c = client_for(app, world, "A1.admin")
    review = c.get(f"/app/campaigns/{s.campaign_id}/review").get_data(as_text=True)
    assert "3 contacts with a confirmed subscription" in review
    assert "0 of 1,000 emails used" in review
    assert "hello@news-a1.example.com" in review and "Hi {{ first_name" in review
    resp = c.post(f"/app/campaigns/{s.campaign_id}/send", csrf_path=f"/app/campaigns/{s.campaign_id}/review")
    assert resp.status_code == 302
    assert _campaign(app, s).status == "sending"
    progress = c.get(f"/app/campaigns/{s.campaign_id}/progress.json").get_json()
    assert progress["total"] == 3 and progress["sent"] == 0 and not progress["final"]
    run_jobs(app)
    assert sorted(str(m["To"]) for m in outbox.messages()) == [p[0] for p in PEOPLE]
    progress = c.get(f"/app/campaigns/{s.campaign_id}/progress.json").get_json()
    assert progress["sent"] == 3 and progress["final"] and progress["percent"] == 100
    assert _campaign(app, s).status == "sent"
    listing = c.get("/app/campaigns").get_data(as_text=True)
    assert re.search(r'<td class="num">\s*3\s*</td>', listing)
    show = c.get(f"/app/campaigns/{s.campaign_id}").get_data(as_text=True)
    assert 'data-stat="sent">3<' in show


def test_schedule_uses_the_client_time_zone_and_the_sweeper_starts_it(app, world, outbox):
    s = make_campaign(app, world, contacts=PEOPLE)
    with app.app_context(), bind_tenant(s.agency_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        client.timezone = "America/New_York"
        db.session.commit()
    c = client_for(app, world, "A1.admin")
    review = f"/app/campaigns/{s.campaign_id}/review"
    assert "America/New_York" in c.get(review).get_data(as_text=True)
    next_year = datetime.now(UTC).year + 1
    resp = c.post(
        f"/app/campaigns/{s.campaign_id}/schedule", {"when": f"{next_year}-07-01T09:30"}, csrf_path=review
    )
    assert resp.status_code == 302
    camp = _campaign(app, s)
    assert camp.status == "scheduled"
    assert camp.scheduled_at.astimezone(UTC) == datetime(next_year, 7, 1, 13, 30, tzinfo=UTC)  # EDT = UTC-4
    # Not due yet: the sweeper leaves it alone.
    with app.app_context():
        assert sweeper.sweep()["started"] == 0
    # Time passes (the schedule is moved into the past): the sweeper starts it, workers send it.
    _update(app, s, scheduled_at=datetime.now(UTC) - timedelta(minutes=1))
    with app.app_context():
        assert sweeper.sweep()["started"] == 1
    run_jobs(app)
    assert len(outbox.messages()) == 3 and _campaign(app, s).status == "sent"


def test_schedule_in_the_past_is_refused_and_unschedule_returns_to_draft(app, world):
    s = make_campaign(app, world, contacts=PEOPLE)
    c = client_for(app, world, "A1.admin")
    review = f"/app/campaigns/{s.campaign_id}/review"
    c.post(f"/app/campaigns/{s.campaign_id}/schedule", {"when": "2001-01-01T10:00"}, csrf_path=review)
    assert "Choose a time in the future" in c.get(review).get_data(as_text=True)
    assert _campaign(app, s).status == "draft"
    c.post(
        f"/app/campaigns/{s.campaign_id}/schedule",
        {"when": f"{datetime.now(UTC).year + 1}-01-01T10:00"},
        csrf_path=review,
    )
    assert _campaign(app, s).status == "scheduled"
    assert "Scheduled for" in c.get(f"/app/campaigns/{s.campaign_id}").get_data(as_text=True)
    c.post(f"/app/campaigns/{s.campaign_id}/unschedule", csrf_path=review)
    camp = _campaign(app, s)
    assert camp.status == "draft" and camp.scheduled_at is None


def test_pause_resume_cancel(app, world, outbox):
    s = make_campaign(app, world, contacts=PEOPLE)
    c = client_for(app, world, "A1.editor")
    base = f"/app/campaigns/{s.campaign_id}"
    c.post(f"{base}/send", csrf_path=f"{base}/review")
    page = c.get(base).get_data(as_text=True)
    assert "Pause" in page and "data-progress-url" in page
    c.post(f"{base}/pause", csrf_path=base)
    assert _campaign(app, s).status == "paused"
    run_jobs(app)  # workers see the pause and send nothing
    assert outbox.messages() == []
    assert "Resume" in c.get(base).get_data(as_text=True)
    c.post(f"{base}/resume", csrf_path=base)
    assert _campaign(app, s).status == "sending"
    c.post(f"{base}/cancel", csrf_path=base)
    assert _campaign(app, s).status == "cancelled"
    run_jobs(app)
    assert outbox.messages() == []
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        statuses = set(db.session.scalars(select(Delivery.status)))
        assert statuses == {"skipped"}


def test_viewer_reads_but_cannot_change(app, world):
    s = make_campaign(app, world, contacts=PEOPLE)
    v = client_for(app, world, "A1.viewer")
    assert v.get("/app/campaigns").status_code == 200
    page = v.get(f"/app/campaigns/{s.campaign_id}")
    assert page.status_code == 200 and 'name="html"' not in page.get_data(as_text=True)
    assert v.get("/app/campaigns/new").status_code == 403
    assert v.get(f"/app/campaigns/{s.campaign_id}/review").status_code == 403
    for action in ("send", "duplicate", "delete", "test", "pause", "cancel", "schedule"):
        assert (
            v.post(f"/app/campaigns/{s.campaign_id}/{action}", csrf_path="/app/campaigns").status_code == 403
        )
    assert (
        v.post(f"/app/campaigns/{s.campaign_id}", _compose_data(s), csrf_path="/app/campaigns").status_code
        == 403
    )
    assert _campaign(app, s).status == "draft"


def test_other_tenants_get_404(app, world):
    s = make_campaign(app, world, contacts=PEOPLE)
    for key in ("A2.admin", "B1.admin"):
        c = client_for(app, world, key)
        base = f"/app/campaigns/{s.campaign_id}"
        for path in (base, f"{base}/review", f"{base}/progress.json"):
            assert c.get(path).status_code == 404, (key, path)
        for action in ("preview", "send", "test", "duplicate", "delete", "pause", "schedule"):
            assert c.post(f"{base}/{action}", csrf_path="/app/campaigns").status_code == 404, (key, action)
        assert s.campaign_id and "Spring sale" not in c.get("/app/campaigns").get_data(as_text=True)
    assert _campaign(app, s).status == "draft"


def test_demo_seed_gives_a_verified_sender_list_and_draft(app):
    from portal.models import Agency, SenderDomain
    from portal.seed import seed_demo
    from portal.tenancy import all_tenants

    with app.app_context():
        first = seed_demo()
        assert "draft campaign" in first and "verified sender domain" in first
        again = seed_demo()
        assert again == []
        with all_tenants():
            agency = db.session.scalar(select(Agency).where(Agency.slug == "demo"))
            client = db.session.scalar(select(Client).where(Client.agency_id == agency.id))
        with bind_tenant(agency.id, client.id):
            domain = db.session.scalar(select(SenderDomain))
            assert domain.domain == "news.demo.localhost" and domain.verified_at is not None
            camp = db.session.scalar(select(Campaign))
            assert camp.status == "draft" and camp.sender_id and camp.audience["lists"]
            from portal.sending.audience import count_audience

            # the seeded sent campaign (portal/reports/demo.py) recorded a hard bounce and an unsubscribe
            # among the four demo contacts: the draft reaches the other two (the consent rule)
            assert count_audience(client, camp.audience) == 2
            from portal.sending import control

            control.ready_to_send(camp)  # nothing missing: the demo can send at once
