"""Development seed: the demo platform admin, agency and client with the documented logins.

Dev only: `make dev` runs it; production never seeds. Re-running it changes nothing.
"""

from __future__ import annotations

from sqlalchemy import select

from .extensions import db
from .models import Agency, Client, User
from .models.user import ROLE_AGENCY_OWNER, ROLE_CLIENT_ADMIN
from .passwords import hash_password
from .services import agencies, clients, users
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
    return done
