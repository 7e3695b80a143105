"""Delivery connections: secrets sealed at rest, never echoed back, audited without values, SMTP test."""

from __future__ import annotations

import json
import socket

import pytest
from sqlalchemy import select, text

from portal.extensions import db
from portal.models import AuditEvent, Connection
from portal.services import DomainError
from portal.services import connections as service
from portal.tenancy import all_tenants

from .support import client_for

SMTP_PASSWORD = "s3cret-smtp-Pa55"
MAILUP_SECRET = "mailup-client-secret-XYZ"
MAILUP_PASSWORD = "mailup-pw-123"


def _connections(app) -> list[Connection]:
    with app.app_context(), all_tenants():
        rows = db.session.scalars(select(Connection).order_by(Connection.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def _raw_rows(app) -> str:
    with app.app_context(), db.engine.connect() as conn:
        return json.dumps([list(map(str, r)) for r in conn.execute(text("SELECT * FROM connection"))])


def _secrets(app, connection_id: int) -> dict:
    with app.app_context(), all_tenants():
        return service.get_secrets(db.session.get(Connection, connection_id))


def _audit(app) -> list[AuditEvent]:
    with app.app_context(), all_tenants():
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("connection.%")).order_by(AuditEvent.id)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def test_smtp_connection_secret_is_encrypted_and_never_echoed(app, world):
    admin = client_for(app, world, "admin")
    ag1 = world.agency_ids["AG1"]
    new = f"/admin/agencies/{ag1}/connections/new/smtp"
    resp = admin.post(
        new,
        {
            "name": "Relay",
            "host": "SMTP.Example.com",
            "port": "587",
            "tls": "starttls",
            "username": "relay-user",
            "password": SMTP_PASSWORD,
        },
    )
    assert resp.status_code == 302
    [conn] = _connections(app)
    assert conn.agency_id == ag1 and conn.kind == "smtp"
    assert conn.options == {
        "host": "smtp.example.com",
        "port": 587,
        "tls": "starttls",
        "username": "relay-user",
    }
    assert SMTP_PASSWORD not in _raw_rows(app)
    assert _secrets(app, conn.id) == {"password": SMTP_PASSWORD}

    edit = f"/admin/agencies/{ag1}/connections/{conn.id}/edit"
    page = admin.get(edit).get_data(as_text=True)
    assert SMTP_PASSWORD not in page and "relay-user" in page and "Leave blank to keep" in page

    # Blank password keeps the stored one; the audit names what changed, never a value.
    form = {
        "name": "Relay",
        "host": "smtp.example.com",
        "port": "2525",
        "tls": "none",
        "username": "relay-user",
    }
    assert admin.post(edit, {**form, "password": ""}).status_code == 302
    assert _secrets(app, conn.id) == {"password": SMTP_PASSWORD}
    assert _connections(app)[0].options["port"] == 2525
    assert admin.post(edit, {**form, "password": "new-Pa55word"}).status_code == 302
    assert _secrets(app, conn.id) == {"password": "new-Pa55word"}
    events = _audit(app)
    assert [e.action for e in events] == ["connection.created", "connection.updated", "connection.updated"]
    assert events[2].details["secrets"] == "password"
    dumped = json.dumps([[e.target, e.details] for e in events])
    assert SMTP_PASSWORD not in dumped and "new-Pa55word" not in dumped
    assert all(e.agency_id == ag1 for e in events)


def test_mailup_and_sms_connections(app, world):
    admin = client_for(app, world, "admin")
    ag2 = world.agency_ids["AG2"]
    resp = admin.post(
        f"/admin/agencies/{ag2}/connections/new/mailup",
        {
            "name": "Main email account",
            "client_id": "abc-123",
            "client_secret": MAILUP_SECRET,
            "username": "m12345",
            "password": MAILUP_PASSWORD,
            "console_host": "services.mailup.com",
            "no_logo": "y",
        },
    )
    assert resp.status_code == 302
    resp = admin.post(
        f"/admin/agencies/{ag2}/connections/new/sms",
        {
            "name": "SMS",
            "provider": "Acme SMS",
            "endpoint": "https://sms.acme.test/send",
            "auth": "bearer",
            "request_template": '{"number": "{to}", "body": "{text}"}',
            "reports": "y",
            "api_key": "sms-key-987",
        },
    )
    assert resp.status_code == 302
    mailup, sms = _connections(app)
    assert mailup.options == {
        "client_id": "abc-123",
        "username": "m12345",
        "console_host": "services.mailup.com",
        "no_logo": True,
        "account_model": "shared",  # a list per client in a shared account unless the operator says so
        "list_id": None,
        "api_base": "",  # the provider's own API hosts
    }
    raw = _raw_rows(app)
    for secret in (MAILUP_SECRET, MAILUP_PASSWORD, "sms-key-987"):
        assert secret not in raw
    assert _secrets(app, mailup.id) == {"client_secret": MAILUP_SECRET, "password": MAILUP_PASSWORD}
    assert _secrets(app, sms.id) == {"api_key": "sms-key-987"}
    # The HTTP gateway's settings, the template parsed into an object, and the callback token made once.
    token = sms.options.pop("hook_token")
    assert len(token) >= 24
    assert sms.options == {
        "provider": "Acme SMS",
        "endpoint": "https://sms.acme.test/send",
        "auth": "bearer",
        "auth_header": "X-Api-Key",
        "id_field": "id",
        "request_template": {"number": "{to}", "body": "{text}"},
        "reports": True,
    }
    page = admin.get(f"/admin/agencies/{ag2}/connections/{mailup.id}/edit").get_data(as_text=True)
    assert MAILUP_SECRET not in page and MAILUP_PASSWORD not in page and "NO LOGO" in page
    detail = admin.get(f"/admin/agencies/{ag2}").get_data(as_text=True)
    assert "Main email account" in detail and "MailUp" in detail and "SMS" in detail


def test_validation_errors_name_the_field(app, world):
    admin = client_for(app, world, "admin")
    ag1 = world.agency_ids["AG1"]
    new = f"/admin/agencies/{ag1}/connections/new/mailup"
    base = {"name": "M", "client_id": "id", "username": "u", "console_host": "services.mailup.com"}
    page = admin.post(new, {**base, "password": "p"}).get_data(as_text=True)
    assert "Client secret: this field is required." in page
    page = admin.post(
        new, {**base, "client_secret": "s", "password": "p", "console_host": "bad host!"}
    ).get_data(as_text=True)
    assert "is not a valid host name" in page
    smtp = f"/admin/agencies/{ag1}/connections/new/smtp"
    page = admin.post(smtp, {"name": "S", "host": "h.test", "port": "25", "tls": "rot13"}).get_data(
        as_text=True
    )
    assert "Not a valid choice" in page
    page = admin.post(
        smtp, {"name": "S", "host": "h.test", "port": "25", "tls": "none", "username": "u"}
    ).get_data(as_text=True)
    assert "Password: this field is required." in page
    assert _connections(app) == []


def test_delete_connection_and_other_agency_is_404(app, world):
    admin = client_for(app, world, "admin")
    ag1, ag2 = world.agency_ids["AG1"], world.agency_ids["AG2"]
    admin.post(
        f"/admin/agencies/{ag1}/connections/new/sms",
        {"name": "SMS", "provider": "P", "endpoint": "https://sms.p.test/send", "api_key": "k"},
    )
    [conn] = _connections(app)
    # The connection belongs to AG1: under AG2's URL it does not exist.
    assert admin.get(f"/admin/agencies/{ag2}/connections/{conn.id}/edit").status_code == 404
    resp = admin.post(
        f"/admin/agencies/{ag2}/connections/{conn.id}/delete", csrf_path=f"/admin/agencies/{ag2}"
    )
    assert resp.status_code == 404 and len(_connections(app)) == 1
    resp = admin.post(
        f"/admin/agencies/{ag1}/connections/{conn.id}/delete", csrf_path=f"/admin/agencies/{ag1}"
    )
    assert resp.status_code == 302 and _connections(app) == []
    assert [e.action for e in _audit(app)] == ["connection.created", "connection.deleted"]


def test_smtp_test_button_against_the_capture_server(app, world):
    port = app.config["PORTAL_SETTINGS"].smtp_port
    admin = client_for(app, world, "admin")
    ag1 = world.agency_ids["AG1"]
    new = f"/admin/agencies/{ag1}/connections/new/smtp"
    admin.post(new, {"name": "Capture", "host": "127.0.0.1", "port": str(port), "tls": "none"})
    admin.post(
        new,
        {
            "name": "Auth",
            "host": "127.0.0.1",
            "port": str(port),
            "tls": "none",
            "username": "u",
            "password": "p",
        },
    )
    ok, needs_auth = _connections(app)
    edit_ok = f"/admin/agencies/{ag1}/connections/{ok.id}/edit"
    page = admin.post(
        f"/admin/agencies/{ag1}/connections/{ok.id}/test", csrf_path=edit_ok, follow_redirects=True
    ).get_data(as_text=True)
    assert "SMTP test succeeded" in page
    edit_auth = f"/admin/agencies/{ag1}/connections/{needs_auth.id}/edit"
    page = admin.post(
        f"/admin/agencies/{ag1}/connections/{needs_auth.id}/test", csrf_path=edit_auth, follow_redirects=True
    ).get_data(as_text=True)
    assert "The SMTP test failed" in page and "AUTH" in page
    tested = [e for e in _audit(app) if e.action == "connection.tested"]
    assert [e.details["ok"] for e in tested] == ["yes", "no"]


def test_smtp_check_reports_refused_connections(app, world):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    conn = Connection(
        kind="smtp", name="x", options={"host": "127.0.0.1", "port": closed_port, "tls": "none"}
    )
    with app.test_request_context(), pytest.raises(DomainError, match="ConnectionRefusedError"):
        service.check_smtp(conn, timeout=2)


def test_agency_activity_never_names_the_provider(app, world):
    admin = client_for(app, world, "admin")
    ag2 = world.agency_ids["AG2"]
    resp = admin.post(
        f"/admin/agencies/{ag2}/connections/new/mailup",
        {
            "name": "Main email",
            "client_id": "abc",
            "client_secret": "s",
            "username": "m1",
            "password": "p",
            "console_host": "services.mailup.com",
            "no_logo": "y",
        },
    )
    assert resp.status_code == 302
    [conn] = _connections(app)
    edit = f"/admin/agencies/{ag2}/connections/{conn.id}/edit"
    form = {"name": "Main email", "client_id": "abc", "username": "m2", "console_host": "services.mailup.com"}
    assert admin.post(edit, form).status_code == 302
    for event in _audit(app):
        assert "mailup" not in json.dumps([event.action, event.target, event.details]).lower()
    owner = client_for(app, world, "AG2.owner")
    page = owner.get("/agency/activity").get_data(as_text=True)
    assert "mailup" not in page.lower()


def test_a_name_that_mentions_the_provider_is_refused(app, world):
    """Agencies see connection names (their clients' pages): the white label forbids naming MailUp."""
    admin = client_for(app, world, "admin")
    ag1 = world.agency_ids["AG1"]
    page = admin.post(
        f"/admin/agencies/{ag1}/connections/new/smtp",
        {"name": "Mailup relay", "host": "h.test", "port": "25", "tls": "none"},
    ).get_data(as_text=True)
    assert "must not mention MailUp" in page
    assert _connections(app) == []
