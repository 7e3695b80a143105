"""Development seed for SMS: the Demo Agency's HTTP SMS gateway connection pointing at the gateway
emulator that `make dev` starts (PORTAL_DEV_SMS_GATEWAY_URL), the Demo Client's SMS channel bound to it,
a credit pool for the agency, an approved sender id and a list of SMS subscribers with E.164 numbers (one
whose delivery report fails). Idempotent; nothing happens without the emulator's URL."""

from __future__ import annotations

import os

from sqlalchemy import select

from ..crypto import encrypt_json
from ..extensions import db
from ..models import Agency, Client, Connection, Contact, CreditEntry, MailingList, SmsSenderId, Subscription
from ..models.connection import KIND_SMS
from ..models.sms import SENDER_APPROVED
from ..tenancy import bind_tenant
from . import credits
from .gateway_setup import bind_sms, create_gateway_connection

URL_ENV = "PORTAL_DEV_SMS_GATEWAY_URL"
DEMO_API_KEY = "demo-sms-key"
CONNECTION_NAME = "SMS gateway (development)"
LIST_NAME = "SMS subscribers"
DEMO_NUMBERS = (
    ("+393471110011", "Giulia"),
    ("+393471110002", "Marco"),
    ("+393471110000", "Numero inesistente"),  # the emulator reports "unknown subscriber"
)


def _connection(agency: Agency, url: str) -> tuple[Connection, bool]:
    conn = db.session.scalar(
        select(Connection).where(Connection.kind == KIND_SMS, Connection.name == CONNECTION_NAME)
    )
    if conn is None:
        return create_gateway_connection(
            agency_id=agency.id, name=CONNECTION_NAME, endpoint=url + "/send", api_key=DEMO_API_KEY
        ), True
    if (conn.options or {}).get("endpoint") != url + "/send":  # another port this time
        conn.options = {**conn.options, "endpoint": url + "/send"}
        conn.secrets_encrypted = encrypt_json({"api_key": DEMO_API_KEY})
    return conn, False


def _audience(agency: Agency, client: Client) -> bool:
    if db.session.scalar(select(MailingList.id).where(MailingList.name == LIST_NAME)):
        return False
    lst = MailingList(agency_id=agency.id, client_id=client.id, name=LIST_NAME)
    db.session.add(lst)
    db.session.flush()
    for number, name in DEMO_NUMBERS:
        contact = db.session.scalar(select(Contact).where(Contact.phone == number))
        if contact is None:
            contact = Contact(
                agency_id=agency.id, client_id=client.id, phone=number, fields={"first_name": name}
            )
            db.session.add(contact)
            db.session.flush()
        db.session.add(
            Subscription(
                agency_id=agency.id, client_id=client.id, list_id=lst.id, contact_id=contact.id, channel="sms"
            )
        )
    lst.sms_subscribed_count = len(DEMO_NUMBERS)
    return True


def seed_demo_sms(agency: Agency, client: Client) -> list[str]:
    url = os.environ.get(URL_ENV, "").rstrip("/")
    if not url:
        return []
    done = []
    with bind_tenant(agency.id):
        conn, created = _connection(agency, url)
        if created:
            done.append("SMS gateway connection")
        client = db.session.scalar(select(Client).where(Client.id == client.id))
        if client.sms_connection_id != conn.id:
            bind_sms(client, conn)
        if not db.session.scalar(
            select(CreditEntry.id).where(CreditEntry.client_id.is_(None), CreditEntry.kind == "grant")
        ):
            credits.grant_pool(actor=None, agency_id=agency.id, amount=10000, note="development pool")
            done.append("SMS credit pool")
        db.session.commit()
    with bind_tenant(agency.id, client.id):
        if not db.session.scalar(select(SmsSenderId.id).where(SmsSenderId.value == "DemoShop")):
            db.session.add(
                SmsSenderId(
                    agency_id=agency.id, client_id=client.id, value="DemoShop", status=SENDER_APPROVED
                )
            )
            done.append("SMS sender id")
        if _audience(agency, client):
            done.append("SMS subscribers")
        db.session.commit()
    return done
