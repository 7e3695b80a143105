"""Subscription forms: the builder's rules, the hosted page and its submission, double opt-in end to end
with the captured email, the consent record, expiry, honeypot, rate limits, CORS limited to the form's
sites, and tenant isolation — against the real app, database, Redis, RQ worker and SMTP capture."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from portal.forms.public_views import PER_FORM, PER_IP
from portal.jobs.queueing import PendingJob, enqueue_now, redis_connection
from portal.sending.audience import count_audience

from .forms_support import (
    client_of,
    confirm_path,
    contact_row,
    make_field,
    make_form,
    make_list,
    requests_of,
    subscription_status,
)
from .support import HostClient, client_for, client_row, run_jobs

SITE = "https://shop.a1.example"


def _setup(app, world, **form_values):
    news = make_list(app, world, "A1", "News")
    first = make_field(app, world, "A1", "First name")
    values = dict(
        name="Footer form",
        title="Our newsletter",
        list_ids=[news["id"]],
        fields=[{"key": first["key"], "required": True}],
        allowed_origins=SITE,
        success_message="Welcome aboard!",
    )
    values.update(form_values)
    form = make_form(app, world, "A1", **values)
    return news, first, form


def _submit(http, key: str, ip: str = "198.51.100.20", headers=None, **data):
    return http.http.post(
        f"http://{http.host}/f/{key}", data=data, headers=headers or {}, environ_base={"REMOTE_ADDR": ip}
    )


def _audience(app, world, list_id: int) -> int:
    agency_id, client_id = client_of(world, "A1")
    from portal.tenancy import bind_tenant

    with app.app_context(), bind_tenant(agency_id, client_id):
        return count_audience(client_row(agency_id, client_id), {"lists": [list_id]})


def test_double_opt_in_end_to_end(app, world, outbox):
    news, first, form = _setup(app, world)
    http = HostClient(app, world.hosts["AG1"])
    page = http.get(f"/f/{form['key']}")
    assert page.status_code == 200 and "Our newsletter" in page.get_data(as_text=True)

    done = _submit(http, form["key"], email="Ann@Example.com", **{first["key"]: "Ann"})
    assert done.status_code == 200
    assert "Follow its link to confirm" in done.get_data(as_text=True)
    assert subscription_status(app, world, "A1", "ann@example.com", news["id"]) == "pending"
    assert _audience(app, world, news["id"]) == 0  # pending receives nothing

    run_jobs(app)
    (message,) = outbox.to("ann@example.com")
    assert "Client A1" in str(message["Subject"])
    assert "Agency AG1" in message.get_body(preferencelist=("html",)).get_content()  # the agency's brand
    assert "mailup" not in message.as_string().lower()
    path = confirm_path(message)
    assert "https://ag1.portal.test/f/confirm/" in message.get_body(preferencelist=("plain",)).get_content()

    # Opening the link changes nothing (mail scanners open links); the button confirms.
    landing = http.get(path)
    assert landing.status_code == 200 and b"confirm-subscription" in landing.data
    assert subscription_status(app, world, "A1", "ann@example.com", news["id"]) == "pending"
    confirmed = http.http.post(f"http://{http.host}{path}", environ_base={"REMOTE_ADDR": "198.51.100.21"})
    assert b"confirm-done" in confirmed.data
    assert subscription_status(app, world, "A1", "ann@example.com", news["id"]) == "subscribed"
    assert _audience(app, world, news["id"]) == 1
    again = http.http.post(f"http://{http.host}{path}")
    assert b"confirmed already" in again.data  # single use: a second confirmation changes nothing

    (record,) = requests_of(app, world, "A1")
    assert record["status"] == "confirmed" and record["form_id"] == form["id"]
    assert record["ip"] == "198.51.100.20" and record["confirmed_ip"] == "198.51.100.21"
    assert record["confirmed_at"] is not None
    assert contact_row(app, world, "A1", "ann@example.com")["fields"] == {first["key"]: "Ann"}
    # the client sees the evidence on the form's page
    detail = client_for(app, world, "A1.admin").get(f"/app/forms/{form['id']}").get_data(as_text=True)
    assert "ann@example.com" in detail and "Confirmed by email" in detail and "198.51.100.21" in detail


def test_the_confirmation_comes_from_the_clients_sender(app, world, outbox):
    from portal.extensions import db
    from portal.models import SenderDomain, SenderIdentity
    from portal.tenancy import bind_tenant

    _news, first, form = _setup(app, world)
    agency_id, client_id = client_of(world, "A1")
    with app.app_context(), bind_tenant(agency_id, client_id):
        domain = SenderDomain(
            agency_id=agency_id,
            client_id=client_id,
            domain="news.a1.example",
            verification_token="v" * 32,
            dkim_selector="p1",
            dkim_private_key="-",
            dkim_public_key="-",
            verified_at=datetime.now(UTC),
        )
        db.session.add(domain)
        db.session.flush()
        db.session.add(
            SenderIdentity(
                agency_id=agency_id,
                client_id=client_id,
                domain_id=domain.id,
                name="A1 News",
                email="hi@news.a1.example",
            )
        )
        db.session.commit()
    http = HostClient(app, world.hosts["AG1"])
    _submit(http, form["key"], email="kit@example.com", **{first["key"]: "Kit"})
    run_jobs(app)
    (message,) = outbox.to("kit@example.com")
    assert str(message["From"]) == "A1 News <hi@news.a1.example>"


def test_the_confirmation_link_works_only_on_its_agency(app, world, outbox):
    _news, first, form = _setup(app, world)
    http = HostClient(app, world.hosts["AG1"])
    _submit(http, form["key"], email="bea@example.com", **{first["key"]: "Bea"})
    run_jobs(app)
    path = confirm_path(outbox.to("bea@example.com")[0])
    other = HostClient(app, world.hosts["AG2"])
    assert other.get(path).status_code == 404
    assert other.get(f"/f/{form['key']}").status_code == 404
    assert (
        other.http.post(f"http://{other.host}/f/{form['key']}", data={"email": "x@example.com"}).status_code
        == 404
    )
    assert http.get("/f/confirm/not-a-token").status_code == 404


def test_unconfirmed_requests_expire(app, world, outbox):
    news, first, form = _setup(app, world)
    http = HostClient(app, world.hosts["AG1"])
    _submit(http, form["key"], email="cy@example.com", **{first["key"]: "Cy"})
    run_jobs(app)
    path = confirm_path(outbox.to("cy@example.com")[0])
    with time_machine.travel(datetime.now(UTC) + timedelta(days=3, hours=1), tick=False):
        assert b"confirm-expired" in http.get(path).data
        expired = http.http.post(f"http://{http.host}{path}")
        assert b"confirm-expired" in expired.data
        assert subscription_status(app, world, "A1", "cy@example.com", news["id"]) == "pending"
        # the periodic job, through a real worker
        with app.app_context():
            enqueue_now(
                PendingJob(name="forms.expire_pending", queue="default", job_id="t-expire"),
                redis_connection(),
            )
        run_jobs(app)
    assert subscription_status(app, world, "A1", "cy@example.com", news["id"]) is None
    assert contact_row(app, world, "A1", "cy@example.com") is None  # made by the request, held by nothing
    assert [r["status"] for r in requests_of(app, world, "A1")] == []  # went with its contact


def test_expiry_keeps_a_contact_that_has_other_subscriptions(app, world, outbox):
    news, first, form = _setup(app, world)
    other = make_list(app, world, "A1", "Other")
    http = HostClient(app, world.hosts["AG1"])
    single = make_form(
        app, world, "A1", name="Single", list_ids=[other["id"]], double_opt_in=False, consent_text="I agree."
    )
    assert _submit(http, single["key"], email="dee@example.com", consent="1").status_code == 200
    _submit(http, form["key"], email="dee@example.com", **{first["key"]: "Dee"})
    from portal.forms import optin

    with app.app_context():
        assert optin.expire_pending(datetime.now(UTC) + timedelta(days=4)) == 1
        from portal.extensions import db

        db.session.commit()
    assert subscription_status(app, world, "A1", "dee@example.com", news["id"]) is None
    assert subscription_status(app, world, "A1", "dee@example.com", other["id"]) == "subscribed"
    assert sorted(r["status"] for r in requests_of(app, world, "A1")) == ["direct", "expired"]


def test_single_opt_in_records_the_consent_text(app, world, outbox):
    news, first, form = _setup(app, world, double_opt_in=False, consent_text="Yes, send me the newsletter.")
    http = HostClient(app, world.hosts["AG1"])
    missing = _submit(http, form["key"], email="eli@example.com", **{first["key"]: "Eli"})
    assert missing.status_code == 400 and "tick the box" in missing.get_data(as_text=True)
    done = _submit(http, form["key"], email="eli@example.com", consent="1", **{first["key"]: "Eli"})
    assert "Welcome aboard!" in done.get_data(as_text=True)
    assert subscription_status(app, world, "A1", "eli@example.com", news["id"]) == "subscribed"
    (record,) = requests_of(app, world, "A1")
    assert record["status"] == "direct" and record["consent_text"] == "Yes, send me the newsletter."
    run_jobs(app)
    assert not outbox.to("eli@example.com")


def test_the_hosted_page_may_send_visitors_to_the_clients_page(app, world):
    news, first, form = _setup(
        app, world, double_opt_in=False, consent_text="I agree.", redirect_url=f"{SITE}/thanks"
    )
    http = HostClient(app, world.hosts["AG1"])
    page = http.get(f"/f/{form['key']}")
    assert f"form-action 'self' {SITE}" in page.headers["Content-Security-Policy"]
    done = _submit(http, form["key"], email="lia@example.com", consent="1", **{first["key"]: "Lia"})
    assert done.status_code == 303 and done.location == f"{SITE}/thanks"
    assert subscription_status(app, world, "A1", "lia@example.com", news["id"]) == "subscribed"
    plain = make_form(app, world, "A1", name="Plain", list_ids=[news["id"]])
    assert "form-action 'self';" in http.get(f"/f/{plain['key']}").headers["Content-Security-Policy"]


def test_bad_input_is_named(app, world):
    news, first, form = _setup(app, world)
    http = HostClient(app, world.hosts["AG1"])
    resp = _submit(http, form["key"], email="not-an-address", **{first["key"]: "X"})
    assert resp.status_code == 400
    resp = _submit(http, form["key"], email="fo@example.com")
    assert resp.status_code == 400 and "First name is required" in resp.get_data(as_text=True)
    both = make_form(app, world, "A1", name="Both", list_ids=[news["id"]], channels=["email", "sms"])
    phone_only = _submit(http, both["key"], phone="+393331234000")  # double opt-in needs an address
    assert phone_only.status_code == 400 and "Enter your email address" in phone_only.get_data(as_text=True)
    assert contact_row(app, world, "A1", "fo@example.com") is None


def test_honeypot_pretends_and_writes_nothing(app, world, outbox):
    _news, first, form = _setup(app, world)
    http = HostClient(app, world.hosts["AG1"])
    resp = _submit(
        http, form["key"], email="bot@example.com", website="http://spam.example", **{first["key"]: "B"}
    )
    assert resp.status_code == 200 and "Follow its link to confirm" in resp.get_data(as_text=True)
    run_jobs(app)
    assert contact_row(app, world, "A1", "bot@example.com") is None
    assert not outbox.messages()


def test_rate_limits_per_ip_and_per_form(app, world):
    news, _first, form = _setup(app, world)
    other = make_form(app, world, "A1", name="Other", list_ids=[news["id"]])
    http = HostClient(app, world.hosts["AG1"])
    per_ip, per_form = int(PER_IP.split()[0]), int(PER_FORM.split()[0])
    for _ in range(per_ip):  # honeypot submissions: counted, nothing written
        assert _submit(http, other["key"], ip="192.0.2.1", website="x").status_code == 200
    assert _submit(http, other["key"], ip="192.0.2.1", website="x").status_code == 429
    assert _submit(http, other["key"], ip="192.0.2.2", website="x").status_code == 200  # another visitor
    assert _submit(http, form["key"], ip="192.0.2.1", website="x").status_code == 200  # another form
    # Per form: many visitors, each under their own limit, share the form's.
    accepted, n = 1, 3  # the submission from 192.0.2.1 above counts for the form
    while accepted < per_form:
        for _ in range(min(per_ip - 1, per_form - accepted)):
            assert (
                _submit(http, form["key"], ip=f"198.18.{n // 250}.{n % 250}", website="x").status_code == 200
            )
            accepted += 1
        n += 1
    assert _submit(http, form["key"], ip="198.19.0.1", website="x").status_code == 429


def test_cors_answers_only_the_forms_sites(app, world, outbox):
    _news, first, form = _setup(app, world)
    http = HostClient(app, world.hosts["AG1"])
    json_headers = {"Origin": SITE, "Accept": "application/json"}
    ok = _submit(http, form["key"], headers=json_headers, email="gil@example.com", **{first["key"]: "Gil"})
    assert ok.status_code == 200 and ok.json["ok"] and ok.json["status"] == "pending"
    assert ok.headers["Access-Control-Allow-Origin"] == SITE
    assert "Origin" in ok.headers.get("Vary", "")
    bad = _submit(
        http,
        form["key"],
        headers={"Origin": "https://evil.example", "Accept": "application/json"},
        email="hal@example.com",
        **{first["key"]: "Hal"},
    )
    assert bad.status_code == 403 and "Access-Control-Allow-Origin" not in bad.headers
    assert contact_row(app, world, "A1", "hal@example.com") is None
    preflight = http.http.open(
        f"http://{http.host}/f/{form['key']}",
        method="OPTIONS",
        headers={"Origin": SITE, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == SITE
    invalid = _submit(http, form["key"], headers=json_headers, email="nope", **{first["key"]: "N"})
    assert invalid.status_code == 400 and invalid.json["errors"]["email"]


def test_a_suppressed_address_is_refused_without_an_email(app, world, outbox):
    _news, first, form = _setup(app, world)
    agency_id, client_id = client_of(world, "A1")
    from portal.extensions import db
    from portal.services import suppression
    from portal.tenancy import bind_tenant

    with app.app_context(), bind_tenant(agency_id, client_id):
        suppression.add(
            actor=None,
            client=client_row(agency_id, client_id),
            channel="email",
            raw_address="ivy@example.com",
            reason="hard_bounce",
            source="test",
        )
        db.session.commit()
    http = HostClient(app, world.hosts["AG1"])
    resp = _submit(http, form["key"], email="ivy@example.com", **{first["key"]: "Ivy"})
    assert resp.status_code == 400 and "cannot be subscribed" in resp.get_data(as_text=True)
    assert "bounce" not in resp.get_data(as_text=True).lower()  # the reason stays private
    run_jobs(app)
    assert not outbox.messages()


def test_builder_rules_and_pages(app, world):
    news = make_list(app, world, "A1", "News")
    admin = client_for(app, world, "A1.admin")
    page = admin.get("/app/forms/new")
    assert page.status_code == 200
    base = {"name": "Shop footer", "list_ids": str(news["id"]), "channels": "email", "language": "it"}
    refused = admin.post(
        "/app/forms/new", {**base, "allowed_origins": SITE, "redirect_url": "https://evil.example/x"}
    )
    assert refused.status_code == 200 and "must be on one of the sites" in refused.get_data(as_text=True)
    no_consent = admin.post("/app/forms/new", {**base})  # double opt-in unticked, no consent text
    assert "must show a consent text" in no_consent.get_data(as_text=True)
    bad_site = admin.post(
        "/app/forms/new", {**base, "double_opt_in": "y", "allowed_origins": "shop.example/path"}
    )
    assert "Not a site address" in bad_site.get_data(as_text=True)
    made = admin.post(
        "/app/forms/new",
        {**base, "double_opt_in": "y", "active": "y", "allowed_origins": "HTTPS://Shop.A1.example/"},
    )
    assert made.status_code == 302
    detail = admin.get(made.location.replace("http://ag1.portal.test", ""))
    text = detail.get_data(as_text=True)
    assert "https://ag1.portal.test/f/" in text and "subscribe-embed.js" in text
    assert "Iscriviti" in text  # the embed code speaks the form's language
    assert admin.get("/app/forms").status_code == 200
    integrations = admin.get("/app/integrations").get_data(as_text=True)
    assert str(news["id"]) in integrations and news["guid"] in integrations
    list_page = admin.get(f"/app/lists/{news['id']}").get_data(as_text=True)
    assert f"<code>{news['id']}</code>" in list_page and news["guid"] in list_page
    assert "ag1.portal.test" in integrations
    assert "mailup" not in integrations.lower()
    # Other features' pages are linked when they are installed, and only then.
    assert ('data-testid="ftp-link"' in integrations) == ("batch" in app.blueprints)
    assert ('data-testid="api-link"' in integrations) == ("integrations" in app.blueprints)
    viewer = client_for(app, world, "A1.viewer")
    assert viewer.get("/app/forms/new").status_code == 403


def test_the_integrations_page_turns_the_endpoints_on(app, world):
    news = make_list(app, world, "A1", "News")
    admin = client_for(app, world, "A1.admin")
    shop = HostClient(app, world.hosts["AG1"])
    query = {"List": news["id"], "Email": "jo@example.com", "Confirm": "0"}
    assert shop.get("/frontend/xmlSubscribe.aspx", query_string=query).data == b"-1011"
    bad = admin.post(
        "/app/integrations/endpoints",
        {"enabled": "y", "allowed_ips": "not-an-ip"},
        csrf_path="/app/integrations",
    )
    assert bad.status_code == 302
    assert shop.get("/frontend/xmlSubscribe.aspx", query_string=query).data == b"-1011"
    ok = admin.post(
        "/app/integrations/endpoints", {"enabled": "y", "allowed_ips": ""}, csrf_path="/app/integrations"
    )
    assert ok.status_code == 302
    assert shop.get("/frontend/xmlSubscribe.aspx", query_string=query).data == b"0"
    editor = client_for(app, world, "A1.editor")
    assert (
        editor.post("/app/integrations/endpoints", {"enabled": ""}, csrf_path="/app/integrations").status_code
        == 403
    )
