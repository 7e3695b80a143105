"""Development seed of the provider-side path (`make dev`): a newcomer sees a campaign that went out
through the MailUp emulator and its statistics pulled back, next to the SMTP demo client.

Dev only, like portal/seed.py, which calls `seed_demo_mailup` once. It needs the emulator's URL
(`PORTAL_DEV_MAILUP_URL`, set by portal/devserver.py after starting it); without one it seeds nothing,
so `portal seed-demo` still works on its own. Every step looks for what an earlier run made first, so
re-running changes nothing:

- a `mailup` connection of the Demo Agency on the emulator's demo account, with a neutral label (agencies
  see it); a restarted emulator on another port only moves the connection's API base;
- the client "Demo MailUp Client" bound to it, its client admin, a verified sender, a list and contacts
  (through the same services as the UI);
- one campaign sent through the provider-side job, then events simulated at the emulator (opens, clicks,
  a hard bounce, an unsubscribe) and one pull: the report, the events and the suppression list show them.

Everything goes over HTTP, as in production: the seed runs in its own process, not the emulator's.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import requests
from sqlalchemy import func, select

from ..backends.mailup.emulator import DEMO_ACCOUNT
from ..extensions import db
from ..models import (
    Agency,
    Campaign,
    Client,
    Connection,
    Event,
    MailingList,
    SenderDomain,
    SenderIdentity,
    User,
)
from ..models.campaign import CAMPAIGN_DRAFT, CAMPAIGN_SENDING, CAMPAIGN_SENT
from ..models.connection import KIND_MAILUP
from ..models.user import ROLE_CLIENT_ADMIN
from ..passwords import hash_password
from ..sending import control
from ..services import campaigns, clients, connection_bindings, connections, contacts, senders, users
from ..services import fields as field_svc
from ..services import lists as list_svc
from ..tenancy import all_tenants, bind_tenant
from .pull import pull_connection
from .send import run_send

URL_ENV = "PORTAL_DEV_MAILUP_URL"
CONNECTION_NAME = "Premium delivery"  # agencies see this label: it never names the provider
CLIENT_NAME = "Demo MailUp Client"
CLIENT_ADMIN = ("mailup@demo.localhost", "demo-mailup")
SENDER_DOMAIN = "offers.demo.localhost"
CAMPAIGN_NAME = "Spring offers"
SALE_URL = "https://shop.example.com/spring"
PEOPLE = (
    ("anna.ferri@example.com", "Anna"),
    ("bruno.galli@example.com", "Bruno"),
    ("chiara.conti@example.com", "Chiara"),
    ("davide.marino@example.com", "Davide"),
    ("elisa.greco@example.com", "Elisa"),
    ("fabio.costa@example.com", "Fabio"),
)
HTML = f"""<html><body>
<p>Hello {{{{ first_name }}}},</p>
<p>Our <a href="{SALE_URL}">spring offers</a> are on until the end of the month.</p>
<p>This email was sent to {{{{ email }}}}.</p>
</body></html>"""
# What happens at the provider after the send, by recipient (the pull brings it back).
SIMULATED = (
    ("view", "anna.ferri@example.com"),
    ("click", "anna.ferri@example.com"),
    ("view", "bruno.galli@example.com"),
    ("view", "bruno.galli@example.com"),
    ("view", "chiara.conti@example.com"),
    ("click", "chiara.conti@example.com"),
    ("hard_bounce", "davide.marino@example.com"),
    ("unsubscribe", "elisa.greco@example.com"),
)


def emulator_url() -> str:
    return os.environ.get(URL_ENV, "").strip().rstrip("/")


def seed_demo_mailup(admin: User, agency: Agency, owner: User, url: str | None = None) -> list[str]:
    """The MailUp demo client of the Demo Agency (see the module docstring); returns what it made."""
    url = url if url is not None else emulator_url()
    if not url:
        return []
    done: list[str] = []
    with all_tenants():
        connection = _connection(admin, agency, url, done)
        db.session.commit()
    with bind_tenant(agency.id):
        client = bound_demo_client(owner, agency, CLIENT_NAME, connection, done, "MailUp demo client")
        if db.session.scalar(select(User).where(User.email == CLIENT_ADMIN[0])) is None:
            users.create_user(
                actor=owner,
                agency=agency,
                client=client,
                email=CLIENT_ADMIN[0],
                role=ROLE_CLIENT_ADMIN,
                name="Demo MailUp Client Admin",
                password_hash=hash_password(CLIENT_ADMIN[1]),
            )
            done.append("MailUp demo client admin")
        db.session.commit()
    with bind_tenant(agency.id, client.id):
        campaign = _campaign(client, done)
        db.session.commit()
        done += _send(client, campaign)
        simulated = _simulate(campaign.id, url)
    if simulated:
        with bind_tenant(agency.id):  # as the pull job runs: the connection's agency, every bound client
            pull_connection(connection.id)
            db.session.commit()
        done.append("MailUp demo statistics pulled")
    return done


def bound_demo_client(
    owner: User, agency: Agency, name: str, connection: Connection, done: list[str], label: str
) -> Client:
    """The demo client called `name` (made once), its email bound to `connection`; call with the agency
    bound. Also used by the adoption demo (portal/adoption/demo.py)."""
    client = db.session.scalar(select(Client).where(Client.name == name))
    if client is None:
        client = clients.create_client(
            actor=owner, agency=agency, name=name, email_quota_month=50000, sms_credits=0
        )
        done.append(label)
    if connection_bindings.bind_client(actor=owner, client=client, connection_ids={"email": connection.id}):
        done.append(f"{label} bound")
    return client


def _connection(admin: User, agency: Agency, url: str, done: list[str]) -> Connection:
    found = db.session.scalar(
        select(Connection).where(
            Connection.agency_id == agency.id,
            Connection.kind == KIND_MAILUP,
            Connection.name == CONNECTION_NAME,
        )
    )
    if found is None:
        found = connections.create_connection(
            actor=admin,
            agency=agency,
            kind=KIND_MAILUP,
            name=CONNECTION_NAME,
            options={
                "client_id": DEMO_ACCOUNT.client_id,
                "username": DEMO_ACCOUNT.username,
                "console_host": "services.mailup.com",
                "no_logo": True,
                "account_model": "shared",
                "api_base": url,
            },
            secrets={"client_secret": DEMO_ACCOUNT.client_secret, "password": DEMO_ACCOUNT.password},
        )
        done.append("MailUp demo connection")
    elif (found.options or {}).get("api_base") != url:
        # The emulator listens elsewhere this time (another port): same account, new address.
        found.options = {**found.options, "api_base": url}
        done.append("MailUp demo connection moved")
    return found


def _campaign(client: Client, done: list[str]) -> Campaign:
    """Sender, list, contacts and the campaign, through the same services as the client's pages."""
    domain = db.session.scalar(select(SenderDomain).where(SenderDomain.domain == SENDER_DOMAIN))
    if domain is None:
        domain = senders.add_domain(actor=None, client=client, domain=SENDER_DOMAIN)
        # Dev seed only (as in portal/seed.py): nobody can publish DNS records for a .localhost name.
        domain.verified_at = datetime.now(UTC)
        domain.last_check_at, domain.last_check = domain.verified_at, {"ownership": True, "dkim": True}
    sender = db.session.scalar(select(SenderIdentity).where(SenderIdentity.email == f"news@{SENDER_DOMAIN}"))
    if sender is None:
        sender = senders.add_identity(
            actor=None, client=client, name="Demo Shop", email=f"news@{SENDER_DOMAIN}"
        )
    if not any(f.key == "first_name" for f in field_svc.list_fields()):
        field_svc.create_field(actor=None, client=client, label="First name")
    customers = db.session.scalar(select(MailingList).where(MailingList.name == "Customers"))
    if customers is None:
        customers = list_svc.create_list(
            actor=None, client=client, values=list_svc.ListValues(name="Customers", double_opt_in=False)
        )
        for email, first in PEOPLE:
            contacts.save_contact(
                actor=None,
                client=client,
                data=contacts.ContactInput(
                    email=email, values={"first_name": first}, list_ids=[customers.id]
                ),
            )
        done.append("MailUp demo list and contacts")
    campaign = db.session.scalar(select(Campaign).where(Campaign.name == CAMPAIGN_NAME))
    if campaign is None:
        campaign = campaigns.create_campaign(actor=None, client=client, name=CAMPAIGN_NAME)
        values = campaigns.CampaignValues(
            name=CAMPAIGN_NAME,
            subject="{{ first_name }}, our spring offers are here",
            preheader="Until the end of the month.",
            sender_id=sender.id,
            html=HTML,
            audience={"lists": [customers.id]},
        )
        campaigns.update_campaign(actor=None, client=client, campaign=campaign, values=values)
        done.append("MailUp demo campaign")
    return campaign


def _send(client: Client, campaign: Campaign) -> list[str]:
    """The provider-side job, run here rather than by a worker (the job queued by the start finds the
    campaign sent and does nothing). A campaign already sent is not sent again."""
    if campaign.status == CAMPAIGN_DRAFT:
        control.start_send(actor=None, client=client, campaign=campaign)
        db.session.commit()
    if _status(campaign.id) != CAMPAIGN_SENDING:
        return []
    return [f"MailUp demo campaign send: {run_send(campaign.id)}"]


def _simulate(campaign_id: int, url: str) -> bool:
    """Opens, clicks, a hard bounce and an unsubscribe at the provider, through the emulator's admin
    endpoint — only while nothing has come back for the campaign (a pull records at least its
    deliveries), so a second run simulates nothing again."""
    campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id))
    pulled = db.session.scalar(
        select(func.count()).select_from(Event).where(Event.campaign_id == campaign_id)
    )
    if campaign.status != CAMPAIGN_SENT or pulled:
        return False
    message_id = int(campaign.provider_state["message_id"])
    for kind, address in SIMULATED:
        event = {"kind": kind, "message_id": message_id, "recipient": address}
        if kind == "click":
            event["url"] = SALE_URL
        requests.post(
            f"{url}/_emulator/accounts/{DEMO_ACCOUNT.username}/events", json=event, timeout=10
        ).raise_for_status()
    return True


def _status(campaign_id: int) -> str:
    db.session.expire_all()
    return db.session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
