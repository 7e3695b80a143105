"""Development seed of the adoption (`make dev`): an account at the MailUp emulator that already holds
years of data, and a client of the Demo Agency bound to it, ready for "Import from your previous provider
account" (agency area: Clients → Demo Moving Client; back-office: the connection's page).

Dev only, called once from portal/seed.py. It needs the emulator's URL (`PORTAL_DEV_MAILUP_URL`, set by
portal/devserver.py); without one it seeds nothing. The account is made and filled over HTTP through the
emulator's admin endpoints (`/_emulator/accounts`, `/_emulator/accounts/{u}/prefill`), once: a second run
finds it filled and changes nothing. The import itself is left for the user to preview and start.
"""

from __future__ import annotations

import requests
from sqlalchemy import select

from ..backends.mailup.emulator import AccountSpec
from ..extensions import db
from ..models import Agency, Connection, User
from ..models.connection import KIND_MAILUP
from ..providers.demo import bound_demo_client, emulator_url
from ..services import connections
from ..tenancy import all_tenants, bind_tenant

ACCOUNT = AccountSpec("m77777", "previous-account-pw", "previous-client-id", "previous-client-secret")
CONNECTION_NAME = "Previous account"  # agencies see this label: it never names the provider
CLIENT_NAME = "Demo Moving Client"
RECIPIENTS = 400


def seed_demo_adoption(admin: User, agency: Agency, owner: User, url: str | None = None) -> list[str]:
    url = url if url is not None else emulator_url()
    if not url:
        return []
    done = _fill_account(url)
    with all_tenants():
        connection = db.session.scalar(
            select(Connection).where(Connection.agency_id == agency.id, Connection.name == CONNECTION_NAME)
        )
        if connection is None:
            connection = connections.create_connection(
                actor=admin,
                agency=agency,
                kind=KIND_MAILUP,
                name=CONNECTION_NAME,
                options={
                    "client_id": ACCOUNT.client_id,
                    "username": ACCOUNT.username,
                    "console_host": "services.mailup.com",
                    "account_model": "per_client",
                    "api_base": url,
                },
                secrets={"client_secret": ACCOUNT.client_secret, "password": ACCOUNT.password},
            )
            done.append("adoption demo connection")
        elif (connection.options or {}).get("api_base") != url:
            connection.options = {**connection.options, "api_base": url}
        db.session.commit()
    with bind_tenant(agency.id):
        bound_demo_client(owner, agency, CLIENT_NAME, connection, done, "adoption demo client")
        db.session.commit()
    return done


def _fill_account(url: str) -> list[str]:
    admin = f"{url}/_emulator"
    known = {a["username"].lower() for a in requests.get(f"{admin}/", timeout=10).json().get("accounts", [])}
    if ACCOUNT.username.lower() in known:
        return []
    requests.post(
        f"{admin}/accounts",
        json={
            "username": ACCOUNT.username,
            "password": ACCOUNT.password,
            "client_id": ACCOUNT.client_id,
            "client_secret": ACCOUNT.client_secret,
            "company": "Previous provider account",
        },
        timeout=10,
    ).raise_for_status()
    requests.post(
        f"{admin}/accounts/{ACCOUNT.username}/prefill", json={"generate": RECIPIENTS}, timeout=60
    ).raise_for_status()
    return [f"adoption demo account ({RECIPIENTS} recipients in every status)"]
