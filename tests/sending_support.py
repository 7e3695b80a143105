"""Helpers for sending tests: a verified sender, a list with contacts, a campaign — through the services."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from portal.extensions import db
from portal.mail.dkim import dns_record
from portal.models import Campaign, Client, Contact, MailingList, SenderDomain, Subscription
from portal.services import fields as field_svc
from portal.services import senders
from portal.tenancy import bind_tenant

TEMPLATE_HTML = """<html><head><style>.hi{color:#2458d6}</style></head><body>
<p class="hi">Hello {{ first_name | default("there") }},</p>
<p>Our <a href="https://shop.example.com/sale?utm=1&amp;x=2">spring sale</a> is on.</p>
</body></html>"""


@dataclass
class Setup:
    agency_id: int
    client_id: int
    campaign_id: int
    list_id: int
    dkim_txt: str
    selector: str
    domain: str


def fake_dns(domain: SenderDomain):
    """DNS is an external system: a resolver function answering with exactly the records the UI shows."""
    records = {r["name"]: [r["value"]] for r in senders.dns_records(domain)}
    return lambda name: records.get(name, [])


def make_campaign(
    app,
    world,
    *,
    contacts: list[tuple[str, str]],
    client_key: str = "A1",
    html: str = TEMPLATE_HTML,
    subject: str = "Hi {{ first_name | default('there') }}",
) -> Setup:
    agency_key = "AG1" if client_key.startswith("A") else "AG2"
    ag, cid = world.agency_ids[agency_key], world.client_ids[client_key]
    with app.app_context(), bind_tenant(ag, cid):
        client = db.session.scalar(select(Client).where(Client.id == cid))
        domain = senders.add_domain(
            actor=None, client=client, domain=f"news-{client_key.lower()}.example.com"
        )
        senders.check_domain(actor=None, d=domain, resolver=fake_dns(domain))
        sender = senders.add_identity(
            actor=None, client=client, name="Shop News", email=f"hello@{domain.domain}"
        )
        field_svc.create_field(actor=None, client=client, label="First name")
        lst = MailingList(agency_id=ag, client_id=cid, name="Newsletter")
        db.session.add(lst)
        db.session.flush()
        for email, first in contacts:
            c = Contact(
                agency_id=ag, client_id=cid, email=email, fields={"first_name": first} if first else {}
            )
            db.session.add(c)
            db.session.flush()
            db.session.add(Subscription(agency_id=ag, client_id=cid, list_id=lst.id, contact_id=c.id))
        campaign = Campaign(
            agency_id=ag,
            client_id=cid,
            name="Spring sale",
            subject=subject,
            html=html,
            sender_id=sender.id,
            audience={"lists": [lst.id]},
        )
        db.session.add(campaign)
        db.session.commit()
        return Setup(
            ag,
            cid,
            campaign.id,
            lst.id,
            dns_record(domain.dkim_public_key),
            domain.dkim_selector,
            domain.domain,
        )
