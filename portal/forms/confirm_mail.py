"""The double opt-in confirmation email: the agency's brand, the client as the sender, the single-use link
on the agency's canonical domain (never the request's Host), sent after the commit."""

from __future__ import annotations

from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as gettext_
from sqlalchemy import select

from ..extensions import db
from ..links import absolute
from ..models import Agency, Client, Contact, MailingList, SenderDomain, SenderIdentity, SubscribeRequest
from ..services import notifications


def _client_sender(client: Client, lists: list[MailingList]) -> tuple[str, str | None]:
    """(display name, address or None). The address is one of the client's sender identities on a
    verified domain — the list's default sender when it is one — so the mail is from the client; the
    display name is the list's sender name, else the identity's, else the client's name."""
    identities = db.session.execute(
        select(SenderIdentity.name, SenderIdentity.email)
        .join(SenderDomain, SenderDomain.id == SenderIdentity.domain_id)
        .where(SenderIdentity.client_id == client.id, SenderDomain.verified_at.is_not(None))
        .order_by(SenderIdentity.id)
    ).all()
    wanted = {lst.default_sender_email.lower() for lst in lists if lst.default_sender_email}
    chosen = next((i for i in identities if i.email.lower() in wanted), identities[0] if identities else None)
    list_name = next((lst.default_sender_name for lst in lists if lst.default_sender_name), "")
    name = list_name or (chosen.name if chosen else "") or client.name
    return name, chosen.email if chosen else None


def queue_confirmation(agency: Agency, client: Client, request: SubscribeRequest, token: str) -> None:
    contact = db.session.scalar(select(Contact).where(Contact.id == request.contact_id))
    lists = list(db.session.scalars(select(MailingList).where(MailingList.id.in_(request.list_ids))))
    list_names = [lst.public_name or lst.name for lst in lists]
    brand = notifications.brand_for(agency)
    link = absolute(agency, url_for("formpublic.confirm", token=token))
    sender_name, sender_email = _client_sender(client, lists)
    with force_locale(request.locale or agency.default_locale or "en"):
        context = dict(brand=brand, client_name=client.name, lists=list_names, link=link, days=3)
        text = render_template("email/subscribe_confirm.txt", **context)
        html = render_template("email/subscribe_confirm.html", **context)
        subject = gettext_("Please confirm your subscription to %(name)s", name=client.name)
    settings = current_app.config["PORTAL_SETTINGS"]
    domain = notifications.sender_domain(agency)
    msg = EmailMessage()
    if sender_email:
        msg["From"] = Address(sender_name, addr_spec=sender_email)
    else:
        msg["From"] = Address(sender_name, settings.mail_from_localpart, domain)
    msg["To"] = Address("", addr_spec=contact.email)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    # The envelope sender stays on the agency's domain: bounces of confirmation mail go to the agency.
    notifications.queue_message(msg, f"{settings.mail_from_localpart}@{domain}")
