"""Development seed: the demo platform admin, agency and client with the documented logins.

Dev only: `make dev` runs it; production never seeds. Re-running it changes nothing.
"""

from __future__ import annotations

from sqlalchemy import select

from .adoption.demo import seed_demo_adoption
from .compat.demo import seed_demo_integrations
from .extensions import db
from .models import Agency, Client, User
from .models.user import ROLE_AGENCY_OWNER, ROLE_CLIENT_ADMIN
from .passwords import hash_password
from .providers.demo import seed_demo_mailup
from .reports.demo import seed_demo_sent_campaign
from .services import agencies, clients, users
from .sms.demo import seed_demo_sms
from .tenancy import all_tenants, bind_tenant

ADMIN = ("admin@portal.localhost", "portal-admin")
OWNER = ("owner@demo.localhost", "demo-owner")
CLIENT_ADMIN = ("client@demo.localhost", "demo-client")


def seed_demo() -> list[str]:
    done: list[str] = []
    with all_tenants():
        admin = db.session.scalar(select(User).where(User.agency_id.is_(None), User.email == ADMIN[0]))
        if admin is None:
            admin = User(
                agency_id=None, email=ADMIN[0], name="Platform admin", password_hash=hash_password(ADMIN[1])
            )
            db.session.add(admin)
            db.session.flush()
            done.append("platform admin")
        agency = db.session.scalar(select(Agency).where(Agency.slug == "demo"))
        if agency is None:
            agency = agencies.create_agency(actor=admin, name="Demo Agency", slug="demo")
            agency.support_email = "support@demo.localhost"
            agency.footer_text = "Demo Agency · Via Roma 1, Milano"
            done.append("agency")
        db.session.flush()  # stamping checks run at flush: flush while the opt-out is active
    with bind_tenant(agency.id):
        owner = db.session.scalar(select(User).where(User.email == OWNER[0]))
        if owner is None:
            owner = users.create_user(
                actor=admin,
                agency=agency,
                email=OWNER[0],
                role=ROLE_AGENCY_OWNER,
                name="Demo Owner",
                password_hash=hash_password(OWNER[1]),
            )
            done.append("agency owner")
        client = db.session.scalar(select(Client).where(Client.slug == "demo-client"))
        if client is None:
            client = clients.create_client(
                actor=owner, agency=agency, name="Demo Client", email_quota_month=50000, sms_credits=1000
            )
            done.append("client")
        if db.session.scalar(select(User).where(User.email == CLIENT_ADMIN[0])) is None:
            users.create_user(
                actor=owner,
                agency=agency,
                client=client,
                email=CLIENT_ADMIN[0],
                role=ROLE_CLIENT_ADMIN,
                name="Demo Client Admin",
                password_hash=hash_password(CLIENT_ADMIN[1]),
            )
            done.append("client admin")
        db.session.commit()
    done += seed_demo_campaigns(agency, client)
    done += seed_demo_sent_campaign(client)  # a sent campaign with events: Reports has real charts
    done += seed_demo_integrations(agency, client)  # plugin endpoints on, a demo form
    done += seed_demo_mailup(admin, agency, owner)  # only when `make dev` started the MailUp emulator
    done += seed_demo_adoption(admin, agency, owner)  # an account to import from, on the same emulator
    done += seed_demo_sms(agency, client)  # only when `make dev` started the SMS gateway emulator
    return done


DEMO_SENDER_DOMAIN = "news.demo.localhost"
DEMO_CONTACTS = (
    ("giulia.rossi@example.com", "Giulia"),
    ("marco.bianchi@example.com", "Marco"),
    ("sara.verdi@example.com", "Sara"),
    ("luca.neri@example.com", ""),
)


def seed_demo_campaigns(agency: Agency, client: Client) -> list[str]:
    """A verified sender, a Newsletter list with a few contacts and a draft campaign for the demo client."""
    from datetime import UTC, datetime

    from .list_counts import recount
    from .models import Campaign, Contact, Field, MailingList, SenderDomain, SenderIdentity, Subscription
    from .services import campaigns, senders
    from .services import fields as field_svc

    done: list[str] = []
    with bind_tenant(agency.id, client.id):
        domain = db.session.scalar(select(SenderDomain).where(SenderDomain.domain == DEMO_SENDER_DOMAIN))
        if domain is None:
            domain = senders.add_domain(actor=None, client=client, domain=DEMO_SENDER_DOMAIN)
            # Dev seed only: nobody can publish DNS records for a .localhost name, so the domain is marked
            # verified directly. Real domains are verified by checking their records on the Senders page.
            domain.verified_at = datetime.now(UTC)
            domain.last_check_at, domain.last_check = domain.verified_at, {"ownership": True, "dkim": True}
            done.append("verified sender domain")
        sender = db.session.scalar(
            select(SenderIdentity).where(SenderIdentity.email == f"news@{DEMO_SENDER_DOMAIN}")
        )
        if sender is None:
            sender = senders.add_identity(
                actor=None, client=client, name="Demo Client", email=f"news@{DEMO_SENDER_DOMAIN}"
            )
            done.append("sender identity")
        if db.session.scalar(select(Field).where(Field.key == "first_name")) is None:
            field_svc.create_field(actor=None, client=client, label="First name")
        newsletter = db.session.scalar(select(MailingList).where(MailingList.name == "Newsletter"))
        if newsletter is None:
            newsletter = MailingList(agency_id=agency.id, client_id=client.id, name="Newsletter")
            db.session.add(newsletter)
            db.session.flush()
            done.append("Newsletter list")
        for email, first in DEMO_CONTACTS:
            contact = db.session.scalar(select(Contact).where(Contact.email == email))
            if contact is None:
                contact = Contact(
                    agency_id=agency.id,
                    client_id=client.id,
                    email=email,
                    fields={"first_name": first} if first else {},
                )
                db.session.add(contact)
                db.session.flush()
            subscribed = db.session.scalar(
                select(Subscription).where(
                    Subscription.contact_id == contact.id, Subscription.list_id == newsletter.id
                )
            )
            if subscribed is None:
                db.session.add(
                    Subscription(
                        agency_id=agency.id, client_id=client.id, list_id=newsletter.id, contact_id=contact.id
                    )
                )
        db.session.flush()
        recount(client.id, [newsletter.id])
        if db.session.scalar(select(Campaign).where(Campaign.name == "Welcome newsletter")) is None:
            campaign = campaigns.create_campaign(
                actor=None, client=client, name="Welcome newsletter", starter="newsletter"
            )
            campaign.subject = 'Hello {{ first_name | default("there") }}, here is our news'
            campaign.preheader = "What is new this month, in two minutes."
            campaign.sender_id = sender.id
            campaign.audience = {
                "lists": [newsletter.id],
                "segments": [],
                "exclude_lists": [],
                "exclude_segments": [],
            }
            done.append("draft campaign")
        db.session.commit()
    return done
