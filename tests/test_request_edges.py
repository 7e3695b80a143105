"""Requests at the edge: malformed Host and request targets (checklist A2), trusted proxy hops (A3),
cache keys (A9) and HSTS scope (D29)."""

from __future__ import annotations

import dataclasses
import io
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from portal import create_app
from portal.extensions import db
from portal.models import Agency, AuditEvent
from portal.request_target import BAD_REQUEST
from portal.services import agencies
from portal.settings import ROOT
from portal.tenancy import all_tenants

from .support import ADMIN_HOST, HostClient, client_for, csrf_from

# --- A2 at the WSGI level: the environ exactly as a server would build it -------------------------


def _call(app, **environ):
    """Run one request through the whole WSGI stack with a hand-made environ."""
    base = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/login",
        "QUERY_STRING": "",
        "SERVER_NAME": "ag1.portal.test",  # what a server bound to a tenant's name would put there
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.7",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    base.update(environ)
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = int(status.split()[0]), headers

    body = b"".join(app.wsgi_app(base, start_response))
    return seen["status"], dict(seen["headers"]), body


def test_missing_host_is_400_not_the_servers_name(app, world):
    status, headers, body = _call(app)  # no HTTP_HOST at all; SERVER_NAME names AG1
    assert status == 400 and body == BAD_REQUEST
    assert "Set-Cookie" not in headers and b"Agency" not in body


def test_empty_host_is_400(app, world):
    for value in ("", "   "):
        status, headers, body = _call(app, HTTP_HOST=value)
        assert status == 400 and body == BAD_REQUEST and "Set-Cookie" not in headers


def test_duplicate_host_lines_joined_by_the_server_are_400(app, world):
    status, headers, body = _call(app, HTTP_HOST="ag1.portal.test,ag2.portal.test")
    assert status == 400 and body == BAD_REQUEST and "Set-Cookie" not in headers


def test_absolute_form_target_names_the_host(app, world):
    """RFC 9112 §3.2.2: the target's authority wins over Host, whatever the server did with it."""
    status, _, body = _call(
        app, HTTP_HOST="ag1.portal.test", RAW_URI="http://ag2.portal.test/login", REQUEST_URI="/login"
    )
    assert status == 200 and b"Agency AG2" in body and b"Agency AG1" not in body
    # An absolute target naming an unknown host is the neutral 404, not the Host header's tenant.
    status, headers, body = _call(app, HTTP_HOST="ag1.portal.test", RAW_URI="http://attacker.test/login")
    assert status == 404 and b"Agency" not in body and "Set-Cookie" not in headers


def test_a_well_formed_request_still_reaches_its_tenant(app, world):
    status, _, body = _call(app, HTTP_HOST="ag1.portal.test", RAW_URI="/login", REQUEST_URI="/login")
    assert status == 200 and b"Agency AG1" in body


# --- A2 over a real socket, through Werkzeug's server (the one `make dev` runs) --------------------


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(5)


def _raw(port: int, request: bytes) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    data = b"".join(chunks)
    status = int(data.split(b" ", 2)[1])
    return status, data


@pytest.mark.parametrize(
    "request_bytes,expected",
    [
        (b"GET /login HTTP/1.1\r\nHost: ag1.portal.test\r\nHost: ag2.portal.test\r\n", 400),
        (b"GET /login HTTP/1.1\r\nHost: \r\n", 400),
        (b"GET /login HTTP/1.1\r\n", 400),
        (b"GET http://ag2.portal.test/login HTTP/1.1\r\nHost: ag1.portal.test\r\n", 200),
    ],
    ids=["two-host-lines", "empty-host", "missing-host", "absolute-form"],
)
def test_malformed_requests_over_a_socket(app, world, live_server, request_bytes, expected):
    status, data = _raw(live_server, request_bytes + b"Connection: close\r\n\r\n")
    assert status == expected, data[:300]
    if expected == 400:
        assert b"Set-Cookie" not in data.split(b"\r\n\r\n")[0]
        assert b"Agency" not in data
    else:
        assert b"Agency AG2" in data and b"Agency AG1" not in data


# --- A2 through gunicorn, the production server (`docker run IMAGE web`) -------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn_server(settings, world, tmp_path):
    """`gunicorn wsgi:app` in its own process, on the suite's database and Redis."""
    port = _free_port()
    env = {
        **os.environ,
        "SECRET_KEY": settings.secret_key,
        "PORTAL_ENCRYPTION_KEYS": ",".join(settings.encryption_keys),
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "PORTAL_BASE_DOMAIN": settings.base_domain,
        "PORTAL_INSTANCE_DIR": str(tmp_path),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(settings.smtp_port),
        "SMTP_TLS": "none",
    }
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "-b", f"127.0.0.1:{port}", "-w", "1", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90  # the worker imports and builds the app after the bind
        while True:
            try:
                status, _ = _raw(
                    port, b"GET /healthz HTTP/1.1\r\nHost: ag1.portal.test\r\nConnection: close\r\n\r\n"
                )
                if status == 200:
                    break
            except (OSError, IndexError, ValueError):
                pass
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode()[-2000:])
            assert time.monotonic() < deadline, "gunicorn did not answer"
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_malformed_requests_through_gunicorn(gunicorn_server):
    """Gunicorn refuses two Host lines itself; a missing or empty Host reaches the app, which answers
    400; for an absolute-form target gunicorn passes Host on unchanged and the target in RAW_URI — the
    app resolves the target's host, as a proxy routing by the target would."""
    port = gunicorn_server
    cases = {
        b"GET /login HTTP/1.1\r\nHost: ag1.portal.test\r\nHost: ag2.portal.test\r\n": 400,
        b"GET /login HTTP/1.1\r\n": 400,
        b"GET /login HTTP/1.1\r\nHost: \r\n": 400,
        b"GET http://ag2.portal.test/login HTTP/1.1\r\nHost: ag1.portal.test\r\n": 200,
    }
    for request, expected in cases.items():
        status, data = _raw(port, request + b"Connection: close\r\n\r\n")
        assert status == expected, (request, data[:300])
        assert b"Agency AG1" not in data
        if expected == 200:
            assert b"Agency AG2" in data


# --- A3 trusted proxies: only the configured number of hops is believed ---------------------------


def _failed_login_ip(settings, world, hops: int, forwarded_for: str, **headers) -> tuple[str, int]:
    app = create_app(dataclasses.replace(settings, trusted_proxies=hops))
    http = app.test_client()
    environ = {"REMOTE_ADDR": "10.0.0.1", "HTTP_HOST": "proxy.internal"}
    fwd = {"X-Forwarded-For": forwarded_for, "X-Forwarded-Host": headers.pop("host"), **headers}
    page = http.get("/login", environ_overrides=environ, headers=fwd)
    assert page.status_code == 200, page.status_code
    http.post(
        "/login",
        data={"email": "nobody@a1.test", "password": "wrong", "csrf_token": csrf_from(page.get_data(True))},
        environ_overrides=environ,
        headers=fwd,
    )
    with app.app_context(), all_tenants():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "login.failed").order_by(AuditEvent.id.desc())
        ).first()
        return event.ip, event.agency_id


def test_one_trusted_proxy_believes_only_the_last_hop(settings, app, world):
    # The client wrote "6.6.6.6" and "ag2" itself; the one proxy appended what it saw.
    ip, agency_id = _failed_login_ip(
        settings, world, 1, "6.6.6.6, 203.0.113.9", host="ag2.portal.test, ag1.portal.test"
    )
    assert ip == "203.0.113.9"
    assert agency_id == world.agency_ids["AG1"]


def test_two_trusted_proxies_believe_two_hops(settings, app, world):
    ip, agency_id = _failed_login_ip(
        settings,
        world,
        2,
        "6.6.6.6, 198.51.100.4, 203.0.113.9",
        host="attacker.test, ag2.portal.test, ag1.portal.test",
    )
    assert ip == "198.51.100.4"
    assert agency_id == world.agency_ids["AG2"]


def test_no_trusted_proxy_believes_no_forwarded_header(app, world):
    resp = app.test_client().get(
        "/login",
        environ_overrides={"REMOTE_ADDR": "10.0.0.1", "HTTP_HOST": "proxy.internal"},
        headers={"X-Forwarded-Host": "ag1.portal.test", "X-Forwarded-For": "6.6.6.6"},
    )
    assert resp.status_code == 404


# --- A9 cache keys: every page varies by Host, and HTML is never stored ---------------------------


@pytest.mark.parametrize("user_key,path", [(None, "/login"), ("A1.admin", "/app/"), ("admin", "/admin/")])
def test_html_varies_by_host_and_is_not_stored(app, world, user_key, path):
    http = client_for(app, world, user_key) if user_key else HostClient(app, world.hosts["AG1"])
    resp = http.get(path)
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    vary = {v.strip().lower() for v in resp.headers.get("Vary", "").split(",")}
    assert "host" in vary, resp.headers.get("Vary")
    assert "no-store" in resp.headers.get("Cache-Control", ""), resp.headers.get("Cache-Control")


def test_static_and_json_vary_by_host_too(app, world):
    c = HostClient(app, world.hosts["AG1"])
    for path in ("/static/css/portal.css", "/healthz"):
        resp = c.get(path)
        assert "host" in resp.headers.get("Vary", "").lower(), path
        resp.close()


# --- D29 HSTS: includeSubDomains on the platform's own domain only --------------------------------


@pytest.fixture
def secure_app(settings, app):
    return create_app(dataclasses.replace(settings, secure_cookies=True))


def test_hsts_includes_subdomains_on_the_platform_domain(secure_app, world):
    for host in (world.hosts["AG1"], ADMIN_HOST):
        resp = secure_app.test_client().get(f"https://{host}/login")
        assert resp.status_code == 200
        hsts = resp.headers.get("Strict-Transport-Security", "")
        assert "max-age=31536000" in hsts and "includesubdomains" in hsts.lower(), (host, hsts)


def test_hsts_on_a_custom_domain_leaves_its_subdomains_alone(secure_app, app, world):
    host = "mail.ag1-custom.test"
    with app.app_context(), all_tenants():
        agency = db.session.get(Agency, world.agency_ids["AG1"])
        domain = agencies.add_domain(actor=None, agency=agency, host=host)
        agencies.verify_domain(actor=None, domain=domain, resolver=lambda name: [domain.txt_record_value])
        db.session.commit()
    resp = secure_app.test_client().get(f"https://{host}/login")
    assert resp.status_code == 200 and "Agency AG1" in resp.get_data(as_text=True)
    hsts = resp.headers.get("Strict-Transport-Security", "")
    assert hsts.startswith("max-age=31536000") and "includesubdomains" not in hsts.lower(), hsts


def test_no_hsts_for_a_host_that_is_not_ours(secure_app, world):
    resp = secure_app.test_client().get("https://attacker.test/login")
    assert resp.status_code == 404 and "Strict-Transport-Security" not in resp.headers
