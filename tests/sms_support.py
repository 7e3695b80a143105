"""SMS test helpers: the gateway emulator over real HTTP, the app on a live port for the emulator's
callbacks, and a client ready to send (SMS-subscribed contacts, an approved sender id, a bound gateway)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import select
from werkzeug.serving import make_server

from portal.backends.sms_gateway_emulator import GatewayState, start_gateway_emulator
from portal.extensions import db
from portal.models import Client, Connection, Contact, MailingList, SmsSenderId, Subscription
from portal.models.sms import SENDER_APPROVED
from portal.sms import credits
from portal.sms.gateway_setup import bind_sms, create_gateway_connection
from portal.tenancy import bind_tenant

API_KEY = "test-sms-key"


class LivePortal:
    """The app on 127.0.0.1 and a free port; the emulator posts reports to agency hosts through it."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()


@dataclass
class SmsSetup:
    agency_id: int
    client_id: int
    list_id: int
    connection_id: int
    hook_token: str
    contact_ids: dict[str, int]


def start_gateway(live_url: str | None = None):
    state = GatewayState(api_key=API_KEY)
    if live_url:
        state.forward = {".portal.test": live_url}
    return start_gateway_emulator(state)


def setup_client(
    app, world, key: str, gateway_url: str, numbers: list[str], *, pool: int = 0, credits_to_give: int = 0
) -> SmsSetup:
    ag = world.agency_ids["AG1" if key.startswith("A") else "AG2"]
    cid = world.client_ids[key]
    with app.app_context(), bind_tenant(ag):
        client = db.session.scalar(select(Client).where(Client.id == cid))
        conn = db.session.scalar(select(Connection).where(Connection.kind == "sms"))
        if conn is None:
            conn = create_gateway_connection(
                agency_id=ag, name="Gateway", endpoint=gateway_url + "/send", api_key=API_KEY
            )
        bind_sms(client, conn)
        if pool:
            credits.grant_pool(actor=None, agency_id=ag, amount=pool)
        if credits_to_give:
            credits.allocate(actor=None, client=client, amount=credits_to_give)
        db.session.commit()
        conn_id, token = conn.id, conn.options["hook_token"]
    with app.app_context(), bind_tenant(ag, cid):
        lst = MailingList(agency_id=ag, client_id=cid, name="SMS fans")
        db.session.add(lst)
        db.session.add(SmsSenderId(agency_id=ag, client_id=cid, value="ShopNews", status=SENDER_APPROVED))
        db.session.flush()
        ids = {}
        for i, number in enumerate(numbers):
            contact = Contact(agency_id=ag, client_id=cid, phone=number, fields={"first_name": f"N{i}"})
            db.session.add(contact)
            db.session.flush()
            db.session.add(
                Subscription(
                    agency_id=ag, client_id=cid, list_id=lst.id, contact_id=contact.id, channel="sms"
                )
            )
            ids[number] = contact.id
        db.session.commit()
        return SmsSetup(ag, cid, lst.id, conn_id, token, ids)
