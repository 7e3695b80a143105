"""Campaign drafts: create (blank or from a starter), edit, duplicate, delete; preview, test send, schedule.

Starting, pausing and cancelling the send itself live in portal.sending.control; this module prepares what
those functions need and shows what they did (progress counts). Services flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..mail.render import ContentError, Links, add_preheader, check_template, html_to_text, prepare, render
from ..models import (
    Campaign,
    Client,
    Contact,
    Delivery,
    Field,
    MailingList,
    Segment,
    SenderDomain,
    SenderIdentity,
    User,
)
from ..models.campaign import (
    CAMPAIGN_DRAFT,
    CAMPAIGN_PAUSED,
    CAMPAIGN_SCHEDULED,
    CAMPAIGN_SENDING,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SENT,
    DELIVERY_SKIPPED,
    EDITABLE,
)
from ..providers.progress import step_message
from . import DomainError, NotFound
from .audit import record
from .i18n_safe import _

AUDIENCE_KEYS = ("lists", "segments", "exclude_lists", "exclude_segments")
MAX_TEST_ADDRESSES = 5
STARTERS_DIR = Path(__file__).resolve().parents[2] / "static" / "email-templates"
STARTERS = ("newsletter", "announcement", "plain")


# --- reading -----------------------------------------------------------------------------------


def get_campaign(campaign_id: int) -> Campaign:
    c = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id))
    if c is None:
        raise NotFound("campaign")
    return c


def campaign_page(*, status: str | None = None, page: int = 1, per_page: int = 25):
    query = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())
    if status:
        query = query.where(Campaign.status == status)
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def status_counts() -> dict[str, int]:
    rows = db.session.execute(select(Campaign.status, func.count()).group_by(Campaign.status))
    return {status: n for status, n in rows}


def delivery_counts(campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """{campaign id: {delivery status: count}} in one grouped query (index campaign_id, status)."""
    if not campaign_ids:
        return {}
    out: dict[int, dict[str, int]] = {i: {} for i in campaign_ids}
    rows = db.session.execute(
        select(Delivery.campaign_id, Delivery.status, func.count())
        .where(Delivery.campaign_id.in_(campaign_ids))
        .group_by(Delivery.campaign_id, Delivery.status)
    )
    for cid, status, n in rows:
        out[cid][status] = n
    return out


def progress(campaign: Campaign) -> dict:
    """The shape of the shared progress component (static/js/portal.js) plus per-status counts."""
    counts = delivery_counts([campaign.id])[campaign.id]
    total = sum(counts.values())
    done = sum(counts.get(s, 0) for s in (DELIVERY_SENT, DELIVERY_FAILED, DELIVERY_SKIPPED))
    final = campaign.status not in (CAMPAIGN_SENDING, CAMPAIGN_PAUSED)
    percent = 100 if final and total else (int(done * 100 / total) if total else 0)
    messages = {
        CAMPAIGN_SENDING: _("Sending…"),
        CAMPAIGN_PAUSED: _("Paused."),
        "sent": _("Sent."),
        "cancelled": _("Cancelled."),
        "failed": _("Failed."),
    }
    state = {CAMPAIGN_SENDING: "running", CAMPAIGN_PAUSED: "paused", "sent": "done"}.get(
        campaign.status, campaign.status
    )
    return {
        "status": campaign.status,
        "state": state,
        "final": final,
        "total": total,
        "done": done,
        "percent": percent,
        "sent": counts.get(DELIVERY_SENT, 0),
        "failed": counts.get(DELIVERY_FAILED, 0),
        "skipped": counts.get(DELIVERY_SKIPPED, 0),
        "pending": counts.get(DELIVERY_PENDING, 0) + counts.get("claimed", 0),
        "eta_seconds": None,
        "message": (campaign.message or step_message(campaign) or messages.get(campaign.status, "")),
        "result_url": None,
    }


def senders_of_client() -> list[tuple[SenderIdentity, SenderDomain]]:
    return [
        (ident, domain)
        for ident, domain in db.session.execute(
            select(SenderIdentity, SenderDomain)
            .join(SenderDomain, SenderDomain.id == SenderIdentity.domain_id)
            .order_by(SenderIdentity.email)
        )
    ]


def fields_of_client() -> list[Field]:
    return list(db.session.scalars(select(Field).order_by(Field.number)))


# --- starters ----------------------------------------------------------------------------------


def starter_html(key: str) -> str:
    if key not in STARTERS:
        return ""
    return (STARTERS_DIR / f"{key}.html").read_text(encoding="utf-8")


# --- writing -----------------------------------------------------------------------------------


def create_campaign(*, actor: User | None, client: Client, name: str, starter: str = "") -> Campaign:
    name = (name or "").strip()
    if not name:
        raise DomainError(_("A campaign needs a name."))
    html = starter_html(starter)
    campaign = Campaign(
        agency_id=client.agency_id,
        client_id=client.id,
        name=name[:200],
        html=html,
        text=html_to_text(html) if html else "",
        audience={k: [] for k in AUDIENCE_KEYS},
        created_by_id=actor.id if actor is not None and actor.id else None,
    )
    identities = senders_of_client()
    verified = [ident for ident, dom in identities if dom.verified_at is not None]
    if len(verified) == 1:
        campaign.sender_id = verified[0].id  # the obvious choice; the author can change it
    db.session.add(campaign)
    db.session.flush()
    record("campaign.created", actor=actor, agency_id=client.agency_id, client_id=client.id, target=name)
    return campaign


@dataclass
class CampaignValues:
    name: str
    subject: str = ""
    preheader: str = ""
    sender_id: int | None = None
    reply_to: str = ""
    html: str = ""
    text: str = ""
    text_edited: bool = False
    audience: dict = field(default_factory=dict)
    track_opens: bool = True
    track_clicks: bool = True


def _owned(model, ids) -> list[int]:
    wanted = sorted({int(i) for i in ids or []})
    if not wanted:
        return []
    found = set(db.session.scalars(select(model.id).where(model.id.in_(wanted))))  # tenant-filtered
    if found != set(wanted):
        raise DomainError(_("The audience names a list or segment that does not exist."))
    return wanted


def check_content(subject: str, preheader: str, html: str, text: str) -> None:
    """Template syntax of every part, with the line of the first mistake (raises DomainError)."""
    for source, where in (
        (subject, _("Subject")),
        (preheader, _("Preheader")),
        (html, _("HTML")),
        (text, _("Plain text")),
    ):
        try:
            check_template(source or "", str(where))
        except ContentError as exc:
            raise DomainError(str(exc)) from exc


def update_campaign(
    *, actor: User | None, client: Client, campaign: Campaign, values: CampaignValues
) -> None:
    if campaign.status not in EDITABLE:
        raise DomainError(_("Only a draft or a scheduled campaign can be changed."))
    if not values.name.strip():
        raise DomainError(_("A campaign needs a name."))
    if values.sender_id is not None:
        ident = db.session.scalar(select(SenderIdentity).where(SenderIdentity.id == values.sender_id))
        if ident is None:
            raise DomainError(_("Choose one of your senders."))
    audience = {
        "lists": _owned(MailingList, values.audience.get("lists")),
        "segments": _owned(Segment, values.audience.get("segments")),
        "exclude_lists": _owned(MailingList, values.audience.get("exclude_lists")),
        "exclude_segments": _owned(Segment, values.audience.get("exclude_segments")),
    }
    html = values.html or ""
    text = values.text if values.text_edited else html_to_text(html) if html.strip() else ""
    check_content(values.subject, values.preheader, html, text)
    campaign.name = values.name.strip()[:200]
    campaign.subject = values.subject.strip()[:255]
    campaign.preheader = values.preheader.strip()[:255]
    campaign.sender_id = values.sender_id
    campaign.reply_to = values.reply_to.strip()[:254]
    campaign.html = html
    campaign.text = text
    campaign.text_edited = bool(values.text_edited)
    campaign.audience = audience
    campaign.track_opens, campaign.track_clicks = bool(values.track_opens), bool(values.track_clicks)
    db.session.flush()
    record(
        "campaign.saved", actor=actor, agency_id=client.agency_id, client_id=client.id, target=campaign.name
    )


def duplicate(*, actor: User | None, client: Client, campaign: Campaign) -> Campaign:
    copy = Campaign(
        agency_id=client.agency_id,
        client_id=client.id,
        channel=campaign.channel,
        name=(_("Copy of %(name)s", name=campaign.name))[:200],
        subject=campaign.subject,
        preheader=campaign.preheader,
        sender_id=campaign.sender_id,
        reply_to=campaign.reply_to,
        html=campaign.html,
        text=campaign.text,
        text_edited=campaign.text_edited,
        audience=dict(campaign.audience or {}),
        track_opens=campaign.track_opens,
        track_clicks=campaign.track_clicks,
        created_by_id=actor.id if actor is not None and actor.id else None,
    )
    db.session.add(copy)
    db.session.flush()
    record(
        "campaign.duplicated",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=copy.name,
        source=campaign.name,
    )
    return copy


def delete_draft(*, actor: User | None, client: Client, campaign: Campaign) -> None:
    if campaign.status != CAMPAIGN_DRAFT:
        raise DomainError(_("Only a draft can be deleted."))
    name = campaign.name
    db.session.delete(campaign)
    db.session.flush()
    record("campaign.deleted", actor=actor, agency_id=client.agency_id, client_id=client.id, target=name)


def remove_identity(*, actor: User | None, client: Client, identity_id: int) -> str:
    ident = db.session.scalar(select(SenderIdentity).where(SenderIdentity.id == identity_id))
    if ident is None:
        raise NotFound("sender")
    busy = db.session.scalar(
        select(func.count())
        .select_from(Campaign)
        .where(
            Campaign.sender_id == ident.id,
            Campaign.status.in_((CAMPAIGN_SCHEDULED, CAMPAIGN_SENDING, CAMPAIGN_PAUSED)),
        )
    )
    if busy:
        raise DomainError(_("%(email)s is the sender of a scheduled or running campaign.", email=ident.email))
    for campaign in db.session.scalars(select(Campaign).where(Campaign.sender_id == ident.id)):
        campaign.sender_id = None
    email = ident.email
    db.session.delete(ident)
    db.session.flush()
    record("sender.removed", actor=actor, agency_id=client.agency_id, client_id=client.id, target=email)
    return email


# --- preview and test send ------------------------------------------------------------------------


def sample_values(fields: list[Field]) -> dict:
    """Believable values for every merge tag (the preview never shows a real contact's data)."""
    samples = {"first_name": "Alex", "last_name": "Morgan", "name": "Alex Morgan", "city": "Milano"}
    values: dict = {"email": "alex.morgan@example.com", "phone": "+393331234567"}
    for f in fields:
        if f.key in samples:
            values[f.key] = samples[f.key]
        elif f.kind == "number":
            values[f.key] = 42
        elif f.kind == "date":
            values[f.key] = "2025-05-01"
        elif f.kind == "boolean":
            values[f.key] = True
        elif f.kind == "choice" and f.choices:
            values[f.key] = f.choices[0]
        else:
            values[f.key] = f.label
    return values


def _preview_links() -> Links:
    return Links(
        unsubscribe_url="#unsubscribe",
        preferences_url="#preferences",
        view_url="#view-in-browser",
        open_url=None,
        click_base="#click",
    )


def render_preview(*, subject: str, preheader: str, html: str, text: str | None, values: dict) -> dict:
    """Subject, HTML and text with merge tags filled in; an `error` (with its line) instead when broken.

    The HTML is returned as data for a sandboxed iframe's srcdoc; it is never inlined into a portal page."""
    generated = html_to_text(html) if html.strip() else ""
    try:
        check_content(subject, preheader, html, text or "")
        prepared = prepare(subject, add_preheader(html, preheader), text or generated, track_clicks=False)
        out_subject, out_html, out_text = render(prepared, values, _preview_links())
    except (DomainError, ContentError) as exc:
        return {"error": str(exc), "subject": subject, "html": "", "text": "", "generated_text": generated}
    except Exception as exc:  # noqa: BLE001 - a runtime template error (e.g. a filter misuse) is the author's
        return {
            "error": _("The template cannot be rendered: %(error)s", error=str(exc)[:300]),
            "subject": subject,
            "html": "",
            "text": "",
            "generated_text": generated,
        }
    return {
        "error": "",
        "subject": out_subject,
        "html": out_html,
        "text": out_text,
        "generated_text": generated,
    }


def test_values(client: Client, campaign: Campaign) -> dict:
    """The first contact of the campaign's audience, or sample values when there is nobody yet."""
    from ..sending.audience import audience_condition

    fields = fields_of_client()
    audience = campaign.audience or {}
    if audience.get("lists") or audience.get("segments"):
        try:
            contact = db.session.scalar(
                select(Contact).where(audience_condition(client, audience)).order_by(Contact.id).limit(1)
            )
        except DomainError:
            contact = None
        if contact is not None:
            return {**(contact.fields or {}), "email": contact.email, "phone": contact.phone or ""}
    return sample_values(fields)


def send_test(*, actor: User | None, client: Client, campaign: Campaign, addresses: list[str]) -> int:
    """Test copies to up to 5 addresses through the campaign's relay ("[Test] " subject, delivery id 0)."""
    from ..sending.test_copies import CopyNotSent, send_test_messages

    addresses = list(dict.fromkeys(a for a in addresses if a))
    if not addresses:
        raise DomainError(_("Enter at least one address."))
    if len(addresses) > MAX_TEST_ADDRESSES:
        raise DomainError(_("Send a test to at most %(n)s addresses.", n=MAX_TEST_ADDRESSES))
    if not client.is_active:
        raise DomainError(_("This account is suspended; sending is not possible."))
    if not campaign.subject.strip():
        raise DomainError(_("Add a subject before sending a test."))
    if not campaign.html.strip() and not campaign.text.strip():
        raise DomainError(_("Add some content before sending a test."))
    sender = (
        db.session.scalar(select(SenderIdentity).where(SenderIdentity.id == campaign.sender_id))
        if campaign.sender_id
        else None
    )
    if sender is None:
        raise DomainError(_("Choose a sender before sending a test."))
    domain = db.session.scalar(select(SenderDomain).where(SenderDomain.id == sender.domain_id))
    if domain is None or domain.verified_at is None:
        raise DomainError(
            _(
                "The sender domain of %(email)s is not verified yet: publish its DNS records and check "
                "them on the Senders page.",
                email=sender.email,
            )
        )
    check_content(campaign.subject, campaign.preheader, campaign.html, campaign.text)
    try:
        sent = send_test_messages(campaign, addresses, test_values(client, campaign))
    except ContentError as exc:
        raise DomainError(str(exc)) from exc
    except CopyNotSent as exc:
        current_app.logger.warning("test send of campaign %s failed: %s", campaign.id, exc)
        raise DomainError(
            _("The mail server did not accept the test message: %(error)s", error=str(exc))
        ) from exc
    record(
        "campaign.test_sent",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=campaign.name,
        to=", ".join(addresses),
    )
    return sent


# --- scheduling ------------------------------------------------------------------------------------


def client_zone(client: Client) -> ZoneInfo:
    try:
        return ZoneInfo(client.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_to_utc(client: Client, local: datetime) -> datetime:
    """A wall-clock time typed by the client (naive) → an aware UTC datetime in the client's time zone."""
    from datetime import UTC

    return local.replace(tzinfo=client_zone(client)).astimezone(UTC)


def utc_to_local(client: Client, when: datetime | None) -> datetime | None:
    if when is None:
        return None
    from datetime import UTC

    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(client_zone(client))


def schedule_local(*, actor: User, client: Client, campaign: Campaign, local: datetime) -> datetime:
    from ..sending import control

    when = local_to_utc(client, local)
    control.schedule(actor=actor, campaign=campaign, when=when)
    return when
