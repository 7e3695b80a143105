"""The email of one delivery: the campaign's prepared content, its envelope and DKIM signer (built once
per campaign and worker), rendered and signed per recipient into an `OutgoingMessage`.

Building a message can fail for one recipient only (a template error that depends on their data, an
address no relay can carry): `compose` raises `MessageError` and the delivery loop fails that delivery
alone, with the reason in the per-recipient report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select, text

from ..backends.addresses import UndeliverableAddress, wire_address
from ..backends.base import OutgoingMessage
from ..crypto import decrypt_json
from ..extensions import db
from ..links import agency_base_url
from ..mail import tokens
from ..mail.build import SIGNED_HEADERS, Envelope, build
from ..mail.dkim import Signer
from ..mail.render import Links, Prepared, add_preheader, html_to_text, prepare, render
from ..models import Agency, Campaign, Client, SenderDomain, SenderIdentity
from ..tenancy import all_tenants


class MessageError(Exception):
    """This recipient's message cannot be built; the text says why (shown in the per-recipient report)."""


@dataclass(frozen=True)
class EmailContent:
    """What is the same for every delivery of one campaign."""

    campaign_id: int
    prepared: Prepared
    envelope: Envelope
    signer: Signer | None
    base_url: str
    track_opens: bool


def prepare_content(campaign: Campaign, track_clicks: bool | None = None) -> Prepared:
    """The campaign's subject, HTML (with its preheader) and text part, ready to render per recipient.
    The same preparation numbers the tracked links at send start and in every worker."""
    text_part = (
        campaign.text if campaign.text_edited and campaign.text.strip() else html_to_text(campaign.html)
    )
    html = add_preheader(campaign.html, campaign.preheader or "")
    clicks = campaign.track_clicks if track_clicks is None else track_clicks
    return prepare(campaign.subject, html, text_part, track_clicks=clicks)


def email_content(campaign: Campaign, *, test: bool = False) -> EmailContent:
    """Test copies are not tracked: no open pixel, no click redirect (there is no delivery to count on)."""
    client = db.session.scalar(select(Client).where(Client.id == campaign.client_id))
    with all_tenants():
        agency = db.session.get(Agency, campaign.agency_id)
    sender = db.session.scalar(select(SenderIdentity).where(SenderIdentity.id == campaign.sender_id))
    domain = db.session.scalar(select(SenderDomain).where(SenderDomain.id == sender.domain_id))
    settings = current_app.config["PORTAL_SETTINGS"]
    canonical = agency.canonical_domain.host
    signer = Signer(
        domain.domain, domain.dkim_selector, decrypt_json(domain.dkim_private_key)["pem"], SIGNED_HEADERS
    )
    envelope = Envelope(
        from_name=sender.name,
        from_email=sender.email,
        reply_to=campaign.reply_to or sender.reply_to,
        list_id=f"{client.slug}.{canonical}",
        list_name=client.name,
        message_domain=canonical,
        bounce_domain=settings.bounce_domain,
    )
    return EmailContent(
        campaign_id=campaign.id,
        prepared=prepare_content(campaign, track_clicks=False if test else None),
        envelope=envelope,
        signer=signer,
        base_url=agency_base_url(agency),
        track_opens=campaign.track_opens and not test,
    )


def recipient_values(client_id: int, contact_ids: list[int]) -> dict[int, dict]:
    """Merge values of the claimed contacts, read in one statement."""
    if not contact_ids:
        return {}
    params = {f"c{i}": c for i, c in enumerate(contact_ids)}
    marks = ", ".join(f":{k}" for k in params)
    rows = db.session.execute(
        text(f"SELECT id, email, phone, fields FROM contact WHERE client_id = :cl AND id IN ({marks})"),
        {"cl": client_id, **params},
    ).all()
    out = {}
    for cid, email, phone, fields in rows:
        values = fields if isinstance(fields, dict) else (json.loads(fields) if fields else {})
        out[cid] = {**values, "email": email, "phone": phone or ""}
    return out


def _links(content: EmailContent, delivery_id: int, unsubscribe: str) -> Links:
    base = content.base_url
    return Links(
        unsubscribe_url=f"{base}/u/{unsubscribe}",
        preferences_url=f"{base}/p/{tokens.make('preferences', delivery_id)}",
        view_url=f"{base}/v/{tokens.make('view', delivery_id)}",
        open_url=f"{base}/o/{tokens.make('open', delivery_id)}.gif" if content.track_opens else None,
        click_base=f"{base}/c/{tokens.make('click', delivery_id)}",
    )


def compose(
    content: EmailContent, delivery_id: int, address: str, values: dict, *, subject_prefix: str = ""
) -> OutgoingMessage:
    """The signed message for one delivery (delivery id 0: a test copy, whose links change nothing)."""
    try:
        wire = wire_address(address)
    except UndeliverableAddress as exc:
        raise MessageError(str(exc)) from exc
    unsubscribe = tokens.make("unsubscribe", delivery_id)  # in the link and in the mailto: address
    links = _links(content, delivery_id, unsubscribe)
    bounce_domain = content.envelope.bounce_domain
    try:
        subject, html, text_part = render(content.prepared, values, links)
        raw = build(
            content.envelope,
            to=wire.address,
            subject=subject_prefix + subject,
            html=html,
            text=text_part,
            send_id=tokens.make("send", delivery_id),
            unsubscribe_url=links.unsubscribe_url,
            unsubscribe_mailto=f"unsubscribe+{unsubscribe}@{bounce_domain}",
            signer=content.signer,
            utf8_headers=wire.utf8,
        )
    except Exception as exc:  # noqa: BLE001 — whatever one recipient's data breaks fails that recipient only
        raise MessageError(f"the message could not be built for this recipient ({_describe(exc)})") from exc
    return OutgoingMessage(
        sender=f"b+{tokens.make('bounce', delivery_id)}@{bounce_domain}",
        recipient=wire.address,
        payload=raw,
        utf8=wire.utf8,
    )


def _describe(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{exc.__class__.__name__}: {text}"[:300] if text else exc.__class__.__name__
