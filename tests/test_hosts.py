"""Tenant resolution from the Host header (checklist A1, A3, A4, A5, A6, A8; DESIGN.md §2)."""

from __future__ import annotations

import dataclasses
import re
from http.cookies import SimpleCookie

import pytest
from sqlalchemy import select

from portal import create_app
from portal.errors import NEUTRAL_404
from portal.extensions import db
from portal.models import Agency, Domain, User
from portal.services import agencies
from portal.tenancy import all_tenants

from .support import ADMIN_HOST, PASSWORD, HostClient, client_for, csrf_from, run_jobs

UNKNOWN_HOSTS = (
    "attacker.test",
    "127.0.0.1",
    "localhost",
    "portal.test",
    "[::1]",
    "ag1.portal.test.evil.test",
)
CUSTOM_HOST = "mail.ag1-custom.test"


def _brand(resp) -> str:
    m = re.search(r'<span class="brand-name">([^<]*)</span>', resp.get_data(as_text=True))
    return m.group(1) if m else ""


def _raw_get(app, host_header: str, path: str = "/login", **headers):
    """A request with exactly this Host header (the URL's host is only used to build the environ)."""
    return app.test_client().get(path, environ_overrides={"HTTP_HOST": host_header}, headers=headers)


# --- A1 unknown hosts -----------------------------------------------------------------------------


@pytest.mark.parametrize("host", UNKNOWN_HOSTS)
def test_unknown_host_is_neutral_404_without_cookie(app, world, host):
    for path in ("/", "/login", "/forgot", "/healthz", "/admin/", "/app/", "/static/css/portal.css"):
        resp = _raw_get(app, host, path)
        assert resp.status_code == 404, path
        assert resp.get_data(as_text=True) == NEUTRAL_404, path
        assert "Set-Cookie" not in resp.headers, path
        assert "Agency" not in resp.get_data(as_text=True)


def test_unknown_host_post_is_neutral_404(app, world):
    resp = app.test_client().post(
        "/login", data={"email": "x@y.z"}, environ_overrides={"HTTP_HOST": "attacker.test"}
    )
    assert resp.status_code == 404 and "Set-Cookie" not in resp.headers


def test_known_hosts_serve_their_own_brand(app, world):
    assert _brand(_raw_get(app, world.hosts["AG1"])) == "Agency AG1"
    assert _brand(_raw_get(app, world.hosts["AG2"])) == "Agency AG2"
    admin_page = _raw_get(app, ADMIN_HOST)
    assert admin_page.status_code == 200 and "Agency AG" not in admin_page.get_data(as_text=True)


# --- A3 forwarded-header spoofing -----------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-Host": "ag2.portal.test"},
        {"Forwarded": "host=ag2.portal.test;proto=https"},
        {"X-Forwarded-Server": "ag2.portal.test"},
        {"X-Host": "ag2.portal.test"},
        {"X-Original-Host": "ag2.portal.test"},
        {"X-Forwarded-Host": "attacker.test", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "8443"},
    ],
    ids=["x-forwarded-host", "forwarded", "x-forwarded-server", "x-host", "x-original-host", "to-unknown"],
)
def test_forwarded_headers_from_the_client_are_ignored(app, world, headers):
    resp = _raw_get(app, world.hosts["AG1"], **headers)
    assert resp.status_code == 200
    assert _brand(resp) == "Agency AG1"
    body = resp.get_data(as_text=True)
    assert "ag2.portal.test" not in body and "attacker.test" not in body


def test_forwarded_header_cannot_reach_a_tenant_from_an_unknown_host(app, world):
    resp = _raw_get(app, "attacker.test", **{"X-Forwarded-Host": world.hosts["AG1"]})
    assert resp.status_code == 404 and "Set-Cookie" not in resp.headers


def test_redirects_stay_on_the_request_host_despite_forwarded_host(app, world):
    resp = app.test_client().get(
        "/app/",
        environ_overrides={"HTTP_HOST": world.hosts["AG1"]},
        headers={"X-Forwarded-Host": "attacker.test"},
    )
    assert resp.status_code == 302 and "attacker.test" not in resp.location


# --- A4 normalisation and the domain lifecycle ----------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    ["AG1.PORTAL.TEST", "Ag1.Portal.Test", "ag1.portal.test.", "ag1.portal.test:443", "ag1.portal.test:8080"],
)
def test_host_variants_resolve_to_the_same_tenant(app, world, variant):
    resp = _raw_get(app, variant)
    assert resp.status_code == 200 and _brand(resp) == "Agency AG1"


@pytest.mark.parametrize(
    "variant",
    [
        "\u0430g1.portal.test".encode().decode("latin-1"),  # Cyrillic а, raw UTF-8 bytes as WSGI sees them
        "xn--g1-7cd.portal.test",  # the same homoglyph in punycode
        "ag1.portal.test:abc",
        "ag1.portal.test..",
        "ag1..portal.test",
        "ag1.portal.test:443:443",
        "",
    ],
    ids=["cyrillic-utf8", "cyrillic-punycode", "bad-port", "two-dots", "empty-label", "two-ports", "empty"],
)
def test_lookalike_and_malformed_hosts_are_404(app, world, variant):
    resp = _raw_get(app, variant)
    assert resp.status_code in (400, 404)
    assert "Agency AG1" not in resp.get_data(as_text=True)
    assert "Set-Cookie" not in resp.headers


def _root(app):
    with all_tenants():
        return db.session.scalar(select(User).where(User.agency_id.is_(None)))


def test_custom_domain_routes_only_while_verified(app, world):
    ag1 = world.agency_ids["AG1"]
    with app.app_context(), all_tenants():
        domain = agencies.add_domain(actor=_root(app), agency=db.session.get(Agency, ag1), host=CUSTOM_HOST)
        db.session.commit()
        domain_id = domain.id
    assert _raw_get(app, CUSTOM_HOST).status_code == 404, "unverified domain must not route"

    with app.app_context(), all_tenants():
        domain = db.session.get(Domain, domain_id)
        asked = []

        def wrong(name):
            asked.append(name)
            return ["portal-verification=not-the-token"]

        assert agencies.verify_domain(actor=_root(app), domain=domain, resolver=wrong) is False
        db.session.commit()
        assert asked == [f"_portal-verification.{CUSTOM_HOST}"]
    assert _raw_get(app, CUSTOM_HOST).status_code == 404, "failed verification must not route"

    with app.app_context(), all_tenants():
        domain = db.session.get(Domain, domain_id)
        value = domain.txt_record_value
        assert (
            agencies.verify_domain(actor=_root(app), domain=domain, resolver=lambda name: ["x", value])
            is True
        )
        db.session.commit()
    resp = _raw_get(app, CUSTOM_HOST)
    assert resp.status_code == 200 and _brand(resp) == "Agency AG1"

    with app.app_context(), all_tenants():
        agencies.remove_domain(actor=_root(app), domain=db.session.get(Domain, domain_id))
        db.session.commit()
    assert _raw_get(app, CUSTOM_HOST).status_code == 404, "removed domain must stop routing at once"


def test_another_agencys_unverified_domain_does_not_route(app, world):
    with app.app_context(), all_tenants():
        agencies.add_domain(
            actor=_root(app), agency=db.session.get(Agency, world.agency_ids["AG2"]), host="ag2-custom.test"
        )
        db.session.commit()
    assert _raw_get(app, "ag2-custom.test").status_code == 404


def test_suspended_agency_host_is_404(app, world):
    owner = client_for(app, world, "AG1.owner")
    with app.app_context(), all_tenants():
        agencies.set_agency_status(
            actor=_root(app), agency=db.session.get(Agency, world.agency_ids["AG1"]), active=False
        )
        db.session.commit()
    assert _raw_get(app, world.hosts["AG1"]).status_code == 404
    assert owner.get("/agency/").status_code == 404


# --- A6 session replay across tenants -------------------------------------------------------------


def _session_cookie(app, hc: HostClient) -> str:
    cookie = hc.http.get_cookie(app.config["SESSION_COOKIE_NAME"], domain=hc.host)
    assert cookie is not None
    return cookie.value


@pytest.mark.parametrize("target", ["AG2", "admin"])
def test_session_cookie_replayed_on_another_host_is_anonymous(app, world, target):
    a1 = client_for(app, world, "A1.admin")
    assert "Client A1" in a1.get("/app/").get_data(as_text=True)
    stolen = _session_cookie(app, a1)
    host = world.hosts["AG2"] if target == "AG2" else ADMIN_HOST
    other = HostClient(app, host)
    other.http.set_cookie(app.config["SESSION_COOKIE_NAME"], stolen, domain=host)
    for path in ("/", "/app/", "/agency/", "/admin/", "/account"):
        resp = other.get(path)
        assert resp.status_code in (302, 404), (path, resp.status_code)
        if resp.status_code == 302:
            assert resp.location.startswith("/login"), (path, resp.location)
        assert "Client A1" not in resp.get_data(as_text=True)
        assert world.users["A1.admin"] not in resp.get_data(as_text=True)
    # The replay did not log anybody in there: the login page is offered.
    assert other.get("/login").status_code == 200


def test_admin_session_replayed_on_an_agency_host_is_anonymous(app, world):
    root = client_for(app, world, "admin")
    stolen = _session_cookie(app, root)
    other = HostClient(app, world.hosts["AG1"])
    other.http.set_cookie(app.config["SESSION_COOKIE_NAME"], stolen, domain=world.hosts["AG1"])
    resp = other.get("/agency/")
    assert resp.status_code == 302 and resp.location.startswith("/login")


# --- A5 link poisoning in emails ------------------------------------------------------------------

URL_RE = re.compile(r"https?://[^\s\"'<>]+")


def _links(message) -> list[str]:
    links = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            links += URL_RE.findall(part.get_content())
    return links


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-Host": "attacker.test"},
        {"Forwarded": "host=attacker.test", "X-Host": "attacker.test", "X-Forwarded-Proto": "http"},
    ],
    ids=["x-forwarded-host", "forwarded"],
)
def test_reset_links_use_the_canonical_domain(app, world, outbox, headers):
    c = HostClient(app, world.hosts["AG1"])
    resp = c.post("/forgot", {"email": world.users["A1.admin"]}, headers=headers)
    assert resp.status_code == 302
    run_jobs(app)
    mails = outbox.to(world.users["A1.admin"])
    assert len(mails) == 1
    links = _links(mails[0])
    assert any("/reset/" in link for link in links)
    for link in links:
        assert link.startswith("https://ag1.portal.test/"), link
    raw = mails[0].as_string()
    assert "attacker.test" not in raw
    assert "mailup" not in raw.lower()


def test_reset_links_follow_the_canonical_custom_domain_not_the_request(app, world, outbox):
    """With a verified custom domain made canonical, mail links use it even when asked on the subdomain."""
    with app.app_context(), all_tenants():
        domain = agencies.add_domain(
            actor=_root(app), agency=db.session.get(Agency, world.agency_ids["AG1"]), host=CUSTOM_HOST
        )
        agencies.verify_domain(
            actor=_root(app), domain=domain, resolver=lambda name: [domain.txt_record_value]
        )
        agencies.make_canonical(actor=_root(app), domain=domain)
        db.session.commit()
    HostClient(app, world.hosts["AG1"]).post("/forgot", {"email": world.users["A1.admin"]})
    run_jobs(app)
    links = [link for link in _links(outbox.to(world.users["A1.admin"])[0]) if "/reset/" in link]
    assert links and all(link.startswith(f"https://{CUSTOM_HOST}/reset/") for link in links)


def test_forgot_on_an_unknown_host_sends_nothing(app, world, outbox):
    resp = app.test_client().post(
        "/forgot", data={"email": world.users["A1.admin"]}, environ_overrides={"HTTP_HOST": "attacker.test"}
    )
    assert resp.status_code == 404
    run_jobs(app)
    assert outbox.messages() == []


def test_forgot_for_another_agencys_user_sends_nothing(app, world, outbox):
    c = HostClient(app, world.hosts["AG2"])
    assert c.post("/forgot", {"email": world.users["A1.admin"]}).status_code == 302
    run_jobs(app)
    assert outbox.messages() == []


# --- A8 cookie flags ------------------------------------------------------------------------------


def _set_cookies(resp) -> list[str]:
    return resp.headers.getlist("Set-Cookie")


def test_secure_session_cookie_flags(app, settings, world):
    secure_app = create_app(dataclasses.replace(settings, secure_cookies=True))
    host = world.hosts["AG1"]
    http = secure_app.test_client()
    base = f"https://{host}"
    page = http.get(f"{base}/login")
    assert page.status_code == 200
    resp = http.post(
        f"{base}/login",
        data={
            "email": world.users["A1.admin"],
            "password": PASSWORD,
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
        headers={"Referer": f"{base}/login"},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    cookies = [c for c in _set_cookies(resp) if c.startswith("__Host-session=")]
    assert cookies, _set_cookies(resp)
    for header in _set_cookies(resp) + _set_cookies(page):
        parsed = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            attrs = header.lower()
            assert name.startswith("__Host-"), header
            assert morsel["secure"] and "secure" in attrs, header
            assert morsel["httponly"], header
            assert morsel["samesite"].lower() == "lax", header
            assert morsel["path"] == "/", header
            assert not morsel["domain"] and "domain=" not in attrs, header
    # The cookie works over https on the same host.
    assert http.get(f"{base}/app/").status_code == 200


def test_plain_cookie_has_no_domain_attribute(app, world):
    """Development (http) still sends host-only, HttpOnly, SameSite cookies."""
    c = HostClient(app, world.hosts["AG1"])
    resp = c.post("/login", {"email": world.users["A1.admin"], "password": PASSWORD})
    headers = _set_cookies(resp)
    assert headers
    for header in headers:
        lowered = header.lower()
        assert "domain=" not in lowered and "httponly" in lowered and "samesite=lax" in lowered, header
