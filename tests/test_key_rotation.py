"""Checklist G38: `portal rotate-keys` re-encrypts every stored secret (connection credentials, DKIM keys,
two-factor secrets, ...); a secret no configured key can read is named by the command, shown as a clear
error on its page and stops the send that needs it once; links already delivered in emails keep working
across a SECRET_KEY rotation (PORTAL_OLD_SECRET_KEYS, newest first)."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import String, Text, func, select, update

from portal import create_app
from portal.extensions import db
from portal.keys.rotation import encrypted_columns
from portal.models import (
    Agency,
    AuditEvent,
    Campaign,
    Client,
    Connection,
    SenderDomain,
    Suppression,
    TotpCredential,
    User,
)
from portal.models.campaign import CAMPAIGN_PAUSED
from portal.services import connections
from portal.tenancy import all_tenants

from .mailup_backend_support import (
    emulator_fixture,  # noqa: F401 (fixture)
    mailup_campaign,
)
from .mailup_backend_support import start as start_provider_send
from .sending_support import make_campaign
from .support import PASSWORD, HostClient, client_for, run_jobs
from .test_mailpublic import _links, _sent
from .test_sending import _start

SMTP = {"host": "smtp.example.net", "port": "587", "tls": "starttls", "username": "relay"}


def _connection(app, world, password="relay-password-1", name="Relay") -> int:
    with app.app_context(), all_tenants():
        root = db.session.scalar(select(User).where(User.agency_id.is_(None)))
        agency = db.session.get(Agency, world.agency_ids["AG1"])
        conn = connections.create_connection(
            actor=root, agency=agency, kind="smtp", name=name, options=SMTP, secrets={"password": password}
        )
        db.session.commit()
        return conn.id


def _tokens(app) -> dict[str, str]:
    """Every stored secret, by "table.column #id"."""
    found = {}
    with app.app_context(), all_tenants():
        for column in encrypted_columns():
            rows = db.session.execute(
                select(column.table.c.id, column).where(column != "").execution_options(all_tenants=True)
            )
            found.update({f"{column.table.name}.{column.name} #{i}": t for i, t in rows if t})
    return found


def _readable_with(keys: list[bytes], token: str) -> bool:
    try:
        MultiFernet([Fernet(k) for k in keys]).decrypt(token.encode())
        return True
    except InvalidToken:
        return False


@pytest.fixture
def secrets_everywhere(app, world):
    """A connection password, a sender domain's DKIM key, the operator's TOTP secret."""
    _connection(app, world)
    make_campaign(app, world, contacts=[("anna@example.org", "Anna")])
    stored = _tokens(app)
    kinds = {label.split(" #")[0] for label in stored}
    assert {
        "connection.secrets_encrypted",
        "sender_domain.dkim_private_key",
        "totp_credential.secret_encrypted",
    } <= kinds
    return stored


def test_rotate_keys_re_encrypts_every_secret_with_the_newest_key(app, settings, secrets_everywhere):
    old = settings.encryption_keys[0].encode()
    new = Fernet.generate_key()
    both = create_app(dataclasses.replace(settings, encryption_keys=(new.decode(), old.decode())))
    result = both.test_cli_runner().invoke(args=["rotate-keys"])
    assert result.exit_code == 0, result.output
    assert f"re-encrypted {len(secrets_everywhere)} secret(s)" in result.output
    after = _tokens(app)
    assert after.keys() == secrets_everywhere.keys()
    for label, token in after.items():
        assert token != secrets_everywhere[label], label
        assert _readable_with([new], token) and not _readable_with([old], token), label
    # The old key can go: the portal reads everything with the new one alone.
    new_only = create_app(dataclasses.replace(settings, encryption_keys=(new.decode(),)))
    with new_only.app_context(), all_tenants():
        conn = db.session.scalars(select(Connection)).one()
        assert connections.get_secrets(conn) == {"password": "relay-password-1"}
    with new_only.app_context(), all_tenants():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "security.keys_rotated")
        ).one()
        assert event.agency_id is None and event.target == f"{len(after)} secrets"


def test_rotate_keys_names_the_secrets_no_key_can_read(app, settings, world, secrets_everywhere):
    conn_id = _connection(app, world, password="other", name="Second relay")
    foreign = Fernet(Fernet.generate_key()).encrypt(b'{"password": "x"}').decode()
    with app.app_context(), all_tenants():
        db.session.execute(
            update(Connection).where(Connection.id == conn_id).values(secrets_encrypted=foreign)
        )
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["rotate-keys"])
    assert result.exit_code == 1
    assert f"connection.secrets_encrypted #{conn_id}" in result.output
    assert "cannot be read with any configured key" in result.output
    assert _tokens(app)[f"connection.secrets_encrypted #{conn_id}"] == foreign  # left as it was


def test_every_column_holding_a_fernet_token_is_rotated(app, world, secrets_everywhere):
    """Scan every text column of every table for Fernet tokens: each must be a column the rotation knows."""
    covered = {(c.table.name, c.name) for c in encrypted_columns()}
    missed = []
    with app.app_context(), all_tenants():
        for table in db.metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, (String, Text)) or (table.name, column.name) in covered:
                    continue
                hit = db.session.execute(
                    select(func.count())
                    .select_from(table)
                    .where(column.like("gAAAAA%"))
                    .execution_options(all_tenants=True)
                ).scalar()
                if hit:
                    missed.append(f"{table.name}.{column.name}")
    assert missed == []


# --- a secret nobody can read ---------------------------------------------------------------------


def _spoil(app, model, row_id, column):
    foreign = Fernet(Fernet.generate_key()).encrypt(b'{"pem": "x"}').decode()
    with app.app_context(), all_tenants():
        db.session.execute(update(model).where(model.id == row_id).values({column: foreign}))
        db.session.commit()


def test_the_connection_page_says_its_secrets_cannot_be_read(app, world):
    conn_id = _connection(app, world)
    _spoil(app, Connection, conn_id, "secrets_encrypted")
    admin = client_for(app, world, "admin")
    path = f"/admin/agencies/{world.agency_ids['AG1']}/connections/{conn_id}/edit"
    page = admin.get(path)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'data-testid="secrets-unreadable"' in body and "PORTAL_ENCRYPTION_KEYS" in body
    # Entering the password again repairs it.
    resp = admin.post(path, {"name": "Relay", **SMTP, "password": "typed-again"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:400]
    with app.app_context(), all_tenants():
        assert connections.get_secrets(db.session.get(Connection, conn_id)) == {"password": "typed-again"}
    assert 'data-testid="secrets-unreadable"' not in admin.get(path).get_data(as_text=True)


def test_a_send_whose_dkim_key_cannot_be_read_pauses_once(app, world, outbox):
    s = make_campaign(app, world, contacts=[("anna@example.org", "Anna"), ("bruno@example.org", "")])
    with app.app_context(), all_tenants():
        domain_id = db.session.scalar(select(SenderDomain.id).where(SenderDomain.domain == s.domain))
    _spoil(app, SenderDomain, domain_id, "dkim_private_key")
    _start(app, s)
    for _ in range(3):  # the job, then whatever a sweeper or a retry would run again
        run_jobs(app)
    with app.app_context(), all_tenants():
        campaign = db.session.get(Campaign, s.campaign_id)
        assert campaign.status == CAMPAIGN_PAUSED
        assert "signing key (DKIM)" in campaign.message and "cannot be read" in campaign.message
        assert "mailup" not in campaign.message.lower()
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "security.secret_unreadable")
        ).all()
        assert len(events) == 1 and events[0].agency_id is None
    assert outbox.messages() == []
    page = client_for(app, world, "A1.admin").get(f"/app/campaigns/{s.campaign_id}")
    assert page.status_code == 200 and "cannot be read" in page.get_data(as_text=True)


def test_a_totp_secret_that_cannot_be_read_refuses_the_code_not_the_page(app, world):
    with app.app_context(), all_tenants():
        cred_id = db.session.scalar(select(TotpCredential.id))
    _spoil(app, TotpCredential, cred_id, "secret_encrypted")
    c = HostClient(app, "admin.portal.test")
    resp = c.post("/login", {"email": world.users["admin"], "password": PASSWORD})
    assert resp.status_code == 302 and resp.location.endswith("/login/code")
    code = c.post("/login/code", {"code": "123456"})
    assert code.status_code == 200
    assert "authenticator key cannot be read" in code.get_data(as_text=True)
    with app.app_context(), all_tenants():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "security.secret_unreadable")
        ).all()
        assert [(e.target, e.details["what"]) for e in events] == [
            (world.users["admin"], "two-factor secret")
        ]


# --- links in delivered email across a SECRET_KEY rotation ----------------------------------------


def test_delivered_links_keep_working_after_a_secret_key_rotation(app, settings, world, outbox):
    _sent(app, world, outbox, contacts=[("anna@example.org", "Anna")])
    links = _links(outbox, "anna@example.org")
    rotated = create_app(
        dataclasses.replace(
            settings, secret_key="a-brand-new-secret-key-0123456789", old_secret_keys=(settings.secret_key,)
        )
    )
    forgotten = create_app(dataclasses.replace(settings, secret_key="a-brand-new-secret-key-0123456789"))
    host = "http://ag1.portal.test"
    for kind in ("u", "p", "v"):
        assert rotated.test_client().get(host + links[kind]).status_code == 200, kind
        assert forgotten.test_client().get(host + links[kind]).status_code == 404, kind
    one_click = rotated.test_client().post(host + links["u"], data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    with app.app_context(), all_tenants():
        assert db.session.scalar(select(Suppression.address)) == "anna@example.org"


def test_a_provider_side_send_whose_credentials_cannot_be_read_pauses_once(app, world, emulator):
    url, _handle = emulator
    s = mailup_campaign(app, world, url)
    with app.app_context(), all_tenants():
        conn_id = db.session.scalar(select(Client.email_connection_id).where(Client.id == s.client_id))
    _spoil(app, Connection, conn_id, "secrets_encrypted")
    start_provider_send(app, s)
    for _ in range(3):
        run_jobs(app)
    with app.app_context(), all_tenants():
        campaign = db.session.get(Campaign, s.campaign_id)
        assert campaign.status == CAMPAIGN_PAUSED and "delivery credentials" in campaign.message
        assert "mailup" not in campaign.message.lower()
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "security.secret_unreadable")
        ).all()
        assert len(events) == 1 and events[0].agency_id is None


def test_sessions_signed_with_the_previous_secret_key_stay_signed_in(app, settings, world):
    a1 = client_for(app, world, "A1.admin")
    name = app.config["SESSION_COOKIE_NAME"]
    cookie = a1.http.get_cookie(name, domain=a1.host).value
    new_key = "a-brand-new-secret-key-0123456789"
    rotated = create_app(
        dataclasses.replace(settings, secret_key=new_key, old_secret_keys=(settings.secret_key,))
    )
    forgotten = create_app(dataclasses.replace(settings, secret_key=new_key))
    for other, expected in ((rotated, 200), (forgotten, 302)):
        c = HostClient(other, a1.host)
        c.http.set_cookie(name, cookie, domain=a1.host)
        assert c.get("/app/").status_code == expected
