"""Development seed: the Demo Client's plugin endpoints on with no allow-list (so a plugin can be tried
against demo.localhost:5000 at once), and a double opt-in form on its Newsletter list."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..forms import builder
from ..models import Agency, Client, MailingList, SubscribeForm
from ..tenancy import bind_tenant
from . import access


def seed_demo_integrations(agency: Agency, client: Client) -> list[str]:
    done: list[str] = []
    with bind_tenant(agency.id, client.id):
        current = access.get_access(client)
        if current is None or not current.enabled:
            access.update_access(actor=None, client=client, enabled=True, allowed_ips="")
            done.append("plugin endpoints on")
        newsletter = db.session.scalar(select(MailingList).where(MailingList.name == "Newsletter"))
        if newsletter is not None and db.session.scalar(select(SubscribeForm.id)) is None:
            builder.create_form(
                actor=None,
                client=client,
                values=builder.FormValues(
                    name="Newsletter sign-up",
                    title="Get our newsletter",
                    list_ids=[newsletter.id],
                    allowed_origins="http://localhost:8000",
                    success_message="Thank you for subscribing!",
                ),
            )
            done.append("subscription form")
        db.session.commit()
    return done
