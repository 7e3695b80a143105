"""Agencies and domains in the back-office: create, edit, suspend, hosts and DNS verification."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import Agency, AuditEvent, Domain
from portal.tenancy import all_tenants

from .support import PASSWORD, HostClient, client_for


def _agency(app, agency_id: int) -> Agency:
    with app.app_context(), all_tenants():
        agency = db.session.get(Agency, agency_id)
        db.session.expunge(agency)
        return agency


def _domain(app, host: str) -> Domain | None:
    with app.app_context(), all_tenants():
        return db.session.scalar(select(Domain).where(Domain.host == host))


def test_creating_an_agency_makes_its_host_answer(app, world):
    assert HostClient(app, "acme.portal.test").get("/login").status_code == 404
    admin = client_for(app, world, "admin")
    resp = admin.post(
        "/admin/agencies/new",
        {"name": "Acme Marketing", "slug": "acme", "default_locale": "it"},
        csrf_path="/admin/agencies/new",
    )
    assert resp.status_code == 302
    detail = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Acme Marketing" in detail and "acme.portal.test" in detail
    login = HostClient(app, "acme.portal.test").get("/login")
    assert login.status_code == 200 and "Acme Marketing" in login.get_data(as_text=True)
    listing = admin.get("/admin/agencies").get_data(as_text=True)
    assert "Acme Marketing" in listing and "acme.portal.test" in listing


def test_create_agency_refuses_bad_or_taken_short_names(app, world):
    admin = client_for(app, world, "admin")
    for slug in ("ag1", "admin", "Bad Slug!"):
        resp = admin.post("/admin/agencies/new", {"name": "X", "slug": slug, "default_locale": "en"})
        assert resp.status_code == 200, slug
        assert 'class="error"' in resp.get_data(as_text=True)
    resp = admin.post("/admin/agencies/new", {"name": "X", "slug": "xx", "default_locale": "fr"})
    assert resp.status_code == 200 and 'class="error"' in resp.get_data(as_text=True)


def test_edit_branding_basics(app, world):
    admin = client_for(app, world, "admin")
    ag1 = world.agency_ids["AG1"]
    path = f"/admin/agencies/{ag1}/edit"
    bad = admin.post(
        path, {"name": "AG1", "primary_color": "red", "accent_color": "#16a34a", "default_locale": "en"}
    )
    assert bad.status_code == 200 and "Use a colour like" in bad.get_data(as_text=True)
    resp = admin.post(
        path,
        {
            "name": "Agency One",
            "primary_color": "#112233",
            "accent_color": "#445566",
            "footer_text": "One Ltd · Via Roma 1",
            "support_email": "Help@One.test",
            "default_locale": "it",
        },
    )
    assert resp.status_code == 302
    agency = _agency(app, ag1)
    assert (agency.name, agency.primary_color, agency.support_email, agency.default_locale) == (
        "Agency One",
        "#112233",
        "help@one.test",
        "it",
    )
    page = HostClient(app, world.hosts["AG1"]).get("/login").get_data(as_text=True)
    assert "#112233" in page and "One Ltd" in page


def test_suspending_an_agency_closes_its_host_and_ends_sessions(app, world):
    owner = client_for(app, world, "AG1.owner")
    assert owner.get("/agency/").status_code == 200
    admin = client_for(app, world, "admin")
    ag1 = world.agency_ids["AG1"]
    resp = admin.post(f"/admin/agencies/{ag1}/status", {"active": "0"}, csrf_path=f"/admin/agencies/{ag1}")
    assert resp.status_code == 302
    assert _agency(app, ag1).status == "suspended"
    assert owner.get("/agency/").status_code == 404
    assert HostClient(app, world.hosts["AG1"]).get("/login").status_code == 404
    assert HostClient(app, world.hosts["AG2"]).get("/login").status_code == 200  # others unaffected
    # Reactivated, the host answers again, but the old session is gone.
    admin.post(f"/admin/agencies/{ag1}/status", {"active": "1"}, csrf_path=f"/admin/agencies/{ag1}")
    assert _agency(app, ag1).status == "active"
    again = owner.get("/agency/")
    assert again.status_code == 302 and "/login" in again.headers["Location"]
    HostClient(app, world.hosts["AG1"]).login(world.users["AG1.owner"], PASSWORD)
    with app.app_context(), all_tenants():
        actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.agency_id == ag1)))
    assert {"agency.suspended", "agency.reactivated"} <= actions


def test_custom_domain_routes_only_once_verified(app, world):
    admin = client_for(app, world, "admin")
    ag1 = world.agency_ids["AG1"]
    detail = f"/admin/agencies/{ag1}"
    resp = admin.post(f"{detail}/domains", {"host": "Mail.Example.COM"}, csrf_path=detail)
    assert resp.status_code == 302
    domain = _domain(app, "mail.example.com")
    assert domain is not None and domain.verified_at is None and not domain.is_canonical
    page = admin.get(detail).get_data(as_text=True)
    assert "_portal-verification.mail.example.com" in page and domain.txt_record_value in page
    # Unverified hosts do not route.
    assert HostClient(app, "mail.example.com").get("/login").status_code == 404

    # "Check DNS now" with DNS standing in: first nothing published, then the record appears.
    published: dict[str, list[str]] = {}
    app.extensions["portal_txt_resolver"] = lambda name: published.get(name, [])
    try:
        verify = f"{detail}/domains/{domain.id}/verify"
        admin.post(verify, csrf_path=detail)
        assert _domain(app, "mail.example.com").verified_at is None
        assert "was not found yet" in admin.get(detail).get_data(as_text=True)
        published[domain.txt_record_name] = ["unrelated", domain.txt_record_value]
        admin.post(verify, csrf_path=detail)
    finally:
        del app.extensions["portal_txt_resolver"]
    assert _domain(app, "mail.example.com").verified_at is not None
    assert HostClient(app, "mail.example.com").get("/login").status_code == 200

    # Make it the main domain, then remove the old automatic host.
    admin.post(f"{detail}/domains/{domain.id}/canonical", csrf_path=detail)
    assert _domain(app, "mail.example.com").is_canonical
    assert not _domain(app, "ag1.portal.test").is_canonical
    old = _domain(app, "ag1.portal.test")
    admin.post(f"{detail}/domains/{old.id}/delete", csrf_path=detail)
    assert _domain(app, "ag1.portal.test") is None
    assert HostClient(app, "ag1.portal.test").get("/login").status_code == 404


def test_domain_errors_are_shown_and_other_agencies_domains_are_404(app, world):
    admin = client_for(app, world, "admin")
    ag1, ag2 = world.agency_ids["AG1"], world.agency_ids["AG2"]
    detail = f"/admin/agencies/{ag1}"
    for host in ("ag2.portal.test", "admin.portal.test", "not a host"):
        resp = admin.post(f"{detail}/domains", {"host": host}, csrf_path=detail, follow_redirects=True)
        assert "flash-error" in resp.get_data(as_text=True), host
    ag2_domain = _domain(app, "ag2.portal.test")
    for action in ("verify", "canonical", "delete"):
        resp = admin.post(f"{detail}/domains/{ag2_domain.id}/{action}", csrf_path=detail)
        assert resp.status_code == 404
    assert _domain(app, "ag2.portal.test") is not None
    assert _agency(app, ag2).status == "active"


# --- default connections of an agency ------------------------------------------------------------------


def _connection(app, agency_id: int, kind: str, name: str) -> int:
    from portal.models import Connection

    with app.app_context(), all_tenants():
        row = Connection(agency_id=agency_id, kind=kind, name=name, options={})
        db.session.add(row)
        db.session.commit()
        return row.id


def test_operator_chooses_the_agency_default_connections(app, world):
    admin = client_for(app, world, "admin")
    ag1, ag2 = world.agency_ids["AG1"], world.agency_ids["AG2"]
    relay = _connection(app, ag1, "smtp", "Relay")
    api = _connection(app, ag1, "mailup", "Main email account")
    gateway = _connection(app, ag1, "sms", "Gateway")
    foreign = _connection(app, ag2, "smtp", "AG2 relay")
    detail = f"/admin/agencies/{ag1}"
    page = admin.get(detail).get_data(as_text=True)
    form = page[page.index('data-testid="connection-defaults"') :]
    email_select = form[form.index('name="email_connection"') : form.index("</select>")]
    # Email: the relay and the API account (the back-office names the provider); SMS: gateway and API.
    assert "Platform relay" in email_select and "Main email account (MailUp)" in email_select
    assert "Relay (SMTP)" in email_select and "Gateway" not in email_select and "AG2" not in email_select

    defaults = f"{detail}/connections/defaults"
    resp = admin.post(
        defaults, {"email_connection": str(api), "sms_connection": str(gateway)}, csrf_path=detail
    )
    assert resp.status_code == 302
    agency = _agency(app, ag1)
    assert (agency.default_email_connection_id, agency.default_sms_connection_id) == (api, gateway)
    usage = admin.get(detail).get_data(as_text=True)
    assert "default for email" in usage and "default for SMS" in usage

    # Another agency's connection, and a relay for SMS, are not choices: refused, nothing changed.
    for bad in ({"email_connection": str(foreign)}, {"sms_connection": str(relay)}):
        resp = admin.post(
            defaults,
            {"email_connection": str(api), "sms_connection": str(gateway), **bad},
            csrf_path=detail,
            follow_redirects=True,
        )
        assert "Not a valid choice" in resp.get_data(as_text=True), bad
    agency = _agency(app, ag1)
    assert (agency.default_email_connection_id, agency.default_sms_connection_id) == (api, gateway)
    # The same form under AG2's URL does not reach AG1's connections.
    admin.post(
        f"/admin/agencies/{ag2}/connections/defaults",
        {"email_connection": str(api)},
        csrf_path=f"/admin/agencies/{ag2}",
    )
    assert _agency(app, ag2).default_email_connection_id is None

    # Back to the platform relay for email; the audit has neutral kinds and the operator's labels only.
    admin.post(defaults, {"email_connection": "", "sms_connection": str(gateway)}, csrf_path=detail)
    assert _agency(app, ag1).default_email_connection_id is None
    with app.app_context(), all_tenants():
        events = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "connection.default_changed")
            .order_by(AuditEvent.id)
        ).all()
        rows = [(e.agency_id, e.target, e.details) for e in events]
    assert rows == [
        (
            ag1,
            "email: Main email account",
            {"channel": "email", "kind": "email-api", "previous": "platform relay"},
        ),
        (ag1, "sms: Gateway", {"channel": "sms", "kind": "sms", "previous": "none"}),
        (
            ag1,
            "email: platform relay",
            {"channel": "email", "kind": "platform relay", "previous": "Main email account"},
        ),
    ]


def test_deleting_a_default_connection_is_refused_with_the_reason(app, world):
    admin = client_for(app, world, "admin")
    ag1 = world.agency_ids["AG1"]
    relay = _connection(app, ag1, "smtp", "Relay")
    detail = f"/admin/agencies/{ag1}"
    admin.post(
        f"{detail}/connections/defaults",
        {"email_connection": str(relay), "sms_connection": ""},
        csrf_path=detail,
    )
    resp = admin.post(f"{detail}/connections/{relay}/delete", csrf_path=detail, follow_redirects=True)
    assert "Relay cannot be deleted while it is in use: it is the agency&#39;s default email connection." in (
        resp.get_data(as_text=True)
    )
    assert _agency(app, ag1).default_email_connection_id == relay
    admin.post(
        f"{detail}/connections/defaults", {"email_connection": "", "sms_connection": ""}, csrf_path=detail
    )
    resp = admin.post(f"{detail}/connections/{relay}/delete", csrf_path=detail)
    assert resp.status_code == 302
    assert "Connection Relay deleted." in admin.get(detail).get_data(as_text=True)
