"""Shared set-up of the forms and compatible-endpoint tests: a client's lists and fields, the endpoint
switch, a form — written through the services the client area uses."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlalchemy import select

from portal.compat import access
from portal.extensions import db
from portal.forms import builder
from portal.models import Client, Contact, SubscribeRequest, Subscription
from portal.services import fields as field_svc
from portal.services import lists as list_svc
from portal.tenancy import bind_tenant

CONFIRM_LINK = re.compile(r"https://[a-z0-9.]+/f/confirm/[A-Za-z0-9_-]+")


def client_of(world, key: str) -> tuple[int, int]:
    agency_key = "AG2" if key.startswith("B") else "AG1"
    return world.agency_ids[agency_key], world.client_ids[key]


def make_list(app, world, client_key: str, name: str, *, sms: bool = False, email: bool = True) -> dict:
    agency_id, client_id = client_of(world, client_key)
    with app.app_context(), bind_tenant(agency_id, client_id):
        client = db.session.get(Client, client_id)
        lst = list_svc.create_list(
            actor=None,
            client=client,
            values=list_svc.ListValues(
                name=name,
                default_sender_name="",
                default_sender_email="",
                double_opt_in=True,
                email_enabled=email,
                sms_enabled=sms,
            ),
        )
        db.session.commit()
        return {"id": lst.id, "guid": lst.guid}


def make_field(app, world, client_key: str, label: str, kind: str = "text") -> dict:
    agency_id, client_id = client_of(world, client_key)
    with app.app_context(), bind_tenant(agency_id, client_id):
        client = db.session.get(Client, client_id)
        f = field_svc.create_field(actor=None, client=client, label=label, kind=kind)
        db.session.commit()
        return {"key": f.key, "number": f.number}


def set_endpoints(app, world, client_key: str, enabled: bool = True, allowed_ips: str = "") -> None:
    agency_id, client_id = client_of(world, client_key)
    with app.app_context(), bind_tenant(agency_id, client_id):
        client = db.session.get(Client, client_id)
        access.update_access(actor=None, client=client, enabled=enabled, allowed_ips=allowed_ips)
        db.session.commit()


def make_form(app, world, client_key: str, **values) -> dict:
    agency_id, client_id = client_of(world, client_key)
    with app.app_context(), bind_tenant(agency_id, client_id):
        client = db.session.get(Client, client_id)
        form = builder.create_form(actor=None, client=client, values=builder.FormValues(**values))
        db.session.commit()
        return {"id": form.id, "key": form.public_key}


def subscription_status(app, world, client_key: str, email: str, list_id: int, channel: str = "email"):
    agency_id, client_id = client_of(world, client_key)
    with app.app_context(), bind_tenant(agency_id, client_id):
        return db.session.scalar(
            select(Subscription.status)
            .join(Contact, Contact.id == Subscription.contact_id)
            .where(Contact.email == email, Subscription.list_id == list_id, Subscription.channel == channel)
        )


def subscription_status_by_phone(app, world, client_key: str, phone: str, list_id: int):
    agency_id, client_id = client_of(world, client_key)
    with app.app_context(), bind_tenant(agency_id, client_id):
        return db.session.scalar(
            select(Subscription.status)
            .join(Contact, Contact.id == Subscription.contact_id)
            .where(Contact.phone == phone, Subscription.list_id == list_id, Subscription.channel == "sms")
        )


def contact_row(app, world, client_key: str, email: str) -> dict | None:
    agency_id, client_id = client_of(world, client_key)
    with app.app_context(), bind_tenant(agency_id, client_id):
        c = db.session.scalar(select(Contact).where(Contact.email == email))
        return None if c is None else {"id": c.id, "phone": c.phone, "fields": dict(c.fields or {})}


def requests_of(app, world, client_key: str) -> list[dict]:
    agency_id, client_id = client_of(world, client_key)
    with app.app_context(), bind_tenant(agency_id, client_id):
        rows = db.session.scalars(select(SubscribeRequest).order_by(SubscribeRequest.id))
        return [
            {
                "status": r.status,
                "ip": r.ip,
                "form_id": r.form_id,
                "source": r.source,
                "consent_text": r.consent_text,
                "confirmed_at": r.confirmed_at,
                "confirmed_ip": r.confirmed_ip,
                "list_ids": list(r.list_ids),
            }
            for r in rows
        ]


def confirm_path(message) -> str:
    """The path of the confirmation link in a captured email (text part)."""
    body = message.get_body(preferencelist=("plain",)).get_content()
    found = CONFIRM_LINK.search(body)
    assert found, body
    return urlsplit(found.group(0)).path
