"""Checklist D29: security headers on every response class — HTML, JSON, file download, error pages
(known and unknown host), redirects."""

from __future__ import annotations

import pytest

from portal.extensions import db
from portal.models import JobRun
from portal.tenancy import all_tenants

from .support import ADMIN_HOST, HostClient, client_for, store_result_file

CSP_DIRECTIVES = ("frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'")


def _csp(resp) -> dict[str, str]:
    header = resp.headers.get("Content-Security-Policy", "")
    out = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            out[name] = value.strip()
    return out


def assert_security_headers(resp, label: str, *, sandboxed: bool = False) -> None:
    csp = _csp(resp)
    assert csp, f"{label}: no Content-Security-Policy"
    if sandboxed:
        # Served bytes (logos, user files) get a stricter, sandboxed policy of their own.
        assert "sandbox" in csp and csp.get("default-src") == "'none'", f"{label}: {csp}"
    else:
        for directive in CSP_DIRECTIVES:
            name, value = directive.split(" ", 1)
            assert csp.get(name) == value, f"{label}: {name} is {csp.get(name)!r}, expected {value}"
        assert "'unsafe-inline'" not in csp.get("script-src", ""), f"{label}: inline scripts allowed"
    assert resp.headers.get("X-Content-Type-Options") == "nosniff", label
    assert resp.headers.get("Referrer-Policy") in (
        "no-referrer",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
    ), label


@pytest.fixture
def run_id(app, world):
    with app.app_context(), all_tenants():
        run = JobRun(
            agency_id=world.agency_ids["AG1"],
            client_id=world.client_ids["A1"],
            kind="contacts_export",  # a kind the portal starts (jobs/access.py)
            queue="default",
            rq_job_id="headers-run",
            state="done",
            result_name="export.csv",
            result_path=store_result_file("headers-run.csv", b"email\nx@a1.test\n"),
        )
        db.session.add(run)
        db.session.commit()
        return run.id


def test_html_pages(app, world):
    anon = HostClient(app, world.hosts["AG1"])
    assert_security_headers(anon.get("/login"), "login page")
    a1 = client_for(app, world, "A1.admin")
    page = a1.get("/app/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert_security_headers(page, "client dashboard")
    assert "no-store" in page.headers.get("Cache-Control", ""), "authenticated page may be cached"
    admin = client_for(app, world, "admin")
    assert_security_headers(admin.get("/admin/"), "admin dashboard")


def test_json_responses(app, world, run_id):
    health = HostClient(app, world.hosts["AG1"]).get("/healthz")
    assert health.mimetype == "application/json"
    assert_security_headers(health, "/healthz")
    a1 = client_for(app, world, "A1.admin")
    status = a1.get(f"/jobs/{run_id}.json")
    assert status.status_code == 200 and status.mimetype == "application/json"
    assert_security_headers(status, "job status JSON")


def test_file_download(app, world, run_id):
    a1 = client_for(app, world, "A1.admin")
    resp = a1.get(f"/jobs/{run_id}/result")
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert "no-store" in resp.headers.get("Cache-Control", "")
    assert_security_headers(resp, "job result download")


@pytest.mark.parametrize("host_key", ["AG1", "admin"])
def test_error_pages_on_known_hosts(app, world, host_key):
    host = ADMIN_HOST if host_key == "admin" else world.hosts[host_key]
    c = HostClient(app, host)
    resp = c.get("/no-such-page")
    assert resp.status_code == 404
    assert_security_headers(resp, f"404 on {host}")
    json_404 = c.get("/jobs/987654.json")
    assert json_404.status_code in (302, 404)
    assert_security_headers(json_404, f"jobs JSON for anonymous on {host}")


def test_error_page_on_unknown_host(app, world):
    resp = HostClient(app, "attacker.test").get("/login")
    assert resp.status_code == 404
    assert_security_headers(resp, "neutral 404")


def test_csrf_error_page(app, world):
    c = HostClient(app, world.hosts["AG1"])
    c.get("/login")
    resp = c.http.post(f"http://{c.host}/login", data={"email": "x@y.z", "password": "nope"})
    assert resp.status_code == 400
    assert_security_headers(resp, "400 CSRF error")


def test_redirects(app, world):
    resp = HostClient(app, world.hosts["AG1"]).get("/app/")
    assert resp.status_code == 302
    assert_security_headers(resp, "login redirect")
    a1 = client_for(app, world, "A1.admin")
    home = a1.get("/")
    assert home.status_code == 302
    assert_security_headers(home, "home redirect")


def test_static_files(app, world):
    resp = HostClient(app, world.hosts["AG1"]).get("/static/css/portal.css")
    assert resp.status_code == 200
    assert_security_headers(resp, "static CSS")
    resp.close()


def test_nonce_is_fresh_per_response(app, world):
    c = HostClient(app, world.hosts["AG1"])
    first = _csp(c.get("/login")).get("script-src")
    second = _csp(c.get("/login")).get("script-src")
    assert first and second and first != second and "'nonce-" in first


def test_branding_asset_is_sandboxed(app, world):
    from portal.models import Agency

    with app.app_context(), all_tenants():
        agency = db.session.get(Agency, world.agency_ids["AG1"])
        agency.logo_data, agency.logo_mime = b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"
        db.session.commit()
    resp = HostClient(app, world.hosts["AG1"]).get("/brand/logo")
    assert resp.status_code == 200
    assert_security_headers(resp, "agency logo", sandboxed=True)
