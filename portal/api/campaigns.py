"""Email campaigns through the campaign services: create (from HTML composed outside, from a starter
template, or as a copy of a campaign composed in the portal), set the audience, test, schedule, send,
status and statistics. Every step is the same service call the client area makes."""

from __future__ import annotations

from flask import g
from sqlalchemy import select

from ..extensions import db
from ..models import Campaign
from ..sending import control
from ..services import campaigns as campaign_service
from ..services import reports
from . import bp
from .auth import requires
from .errors import ApiError
from .paging import page
from .schemas import (
    Audience,
    CampaignIn,
    CampaignOut,
    CampaignStats,
    PageArgs,
    ScheduleIn,
    SendOut,
    TestIn,
    TestOut,
    page_of,
)


def _campaign_or_404(campaign_id: int) -> Campaign:
    campaign = db.session.scalar(
        select(Campaign).where(Campaign.id == campaign_id, Campaign.channel == "email")
    )
    if campaign is None:
        raise ApiError(404, "not_found", "No such campaign.")
    return campaign


def campaign_dict(c: Campaign) -> dict:
    out = {k: getattr(c, k) for k in CampaignOut().fields if k != "audience"}
    out["audience"] = {k: list((c.audience or {}).get(k) or []) for k in campaign_service.AUDIENCE_KEYS}
    return out


def _values(c: Campaign, **changes) -> campaign_service.CampaignValues:
    current = campaign_service.CampaignValues(
        name=c.name,
        subject=c.subject,
        preheader=c.preheader,
        sender_id=c.sender_id,
        reply_to=c.reply_to,
        html=c.html,
        text=c.text,
        text_edited=c.text_edited,
        audience=dict(c.audience or {}),
        track_opens=c.track_opens,
        track_clicks=c.track_clicks,
    )
    for key, value in changes.items():
        setattr(current, key, value)
    return current


@bp.route("/campaigns", methods=["GET"])
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_of(CampaignOut))
@requires("read")
def campaigns_index(args):
    """Email campaigns in id order."""
    return page(select(Campaign).where(Campaign.channel == "email"), Campaign, args, campaign_dict)


@bp.route("/campaigns", methods=["POST"])
@bp.arguments(CampaignIn)
@bp.response(201, CampaignOut)
@requires("write")
def campaigns_create(data):
    """A draft: `html` composed outside, or `template` (a starter), or `copy_of` (a portal campaign)."""
    client = g.client
    if data["copy_of"] is not None:
        campaign = campaign_service.duplicate(
            actor=None, client=client, campaign=_campaign_or_404(data["copy_of"])
        )
    else:
        campaign = campaign_service.create_campaign(
            actor=None, client=client, name=data["name"], starter=data["template"] or ""
        )
    changes = {
        "name": data["name"],
        "subject": data["subject"] or campaign.subject,
        "preheader": data["preheader"] or campaign.preheader,
        "sender_id": data["sender_id"] or campaign.sender_id,
        "reply_to": data["reply_to"] or campaign.reply_to,
        "track_opens": data["track_opens"],
        "track_clicks": data["track_clicks"],
    }
    if data["html"] is not None:
        changes["html"] = data["html"]
    if data["text"] is not None:
        changes["text"], changes["text_edited"] = data["text"], True
    audience = data["audience"]
    if any(audience.get(k) for k in campaign_service.AUDIENCE_KEYS):
        changes["audience"] = audience
    campaign_service.update_campaign(
        actor=None, client=client, campaign=campaign, values=_values(campaign, **changes)
    )
    db.session.commit()
    return campaign_dict(campaign)


@bp.route("/campaigns/<int:campaign_id>", methods=["GET"])
@bp.response(200, CampaignOut)
@requires("read")
def campaigns_get(campaign_id: int):
    """A campaign and its status (draft, scheduled, sending, paused, sent, cancelled, failed)."""
    return campaign_dict(_campaign_or_404(campaign_id))


@bp.route("/campaigns/<int:campaign_id>/audience", methods=["PUT"])
@bp.arguments(Audience)
@bp.response(200, CampaignOut)
@requires("write")
def campaigns_audience(data, campaign_id: int):
    """Replace the audience (lists and segments to include and exclude) of a draft or scheduled campaign."""
    campaign = _campaign_or_404(campaign_id)
    campaign_service.update_campaign(
        actor=None, client=g.client, campaign=campaign, values=_values(campaign, audience=data)
    )
    db.session.commit()
    return campaign_dict(campaign)


@bp.route("/campaigns/<int:campaign_id>/test", methods=["POST"])
@bp.arguments(TestIn)
@bp.response(200, TestOut)
@requires("send")
def campaigns_test(data, campaign_id: int):
    """Send test copies ("[Test]" subject) to up to 5 addresses."""
    campaign = _campaign_or_404(campaign_id)
    sent = campaign_service.send_test(
        actor=None, client=g.client, campaign=campaign, addresses=data["addresses"]
    )
    db.session.commit()
    return {"sent": sent}


@bp.route("/campaigns/<int:campaign_id>/schedule", methods=["POST"])
@bp.arguments(ScheduleIn)
@bp.response(200, CampaignOut)
@requires("send")
def campaigns_schedule(data, campaign_id: int):
    """Schedule the send for `at` (any offset; stored in UTC)."""
    campaign = _campaign_or_404(campaign_id)
    control.schedule(actor=None, campaign=campaign, when=data["at"])
    db.session.commit()
    return campaign_dict(campaign)


@bp.route("/campaigns/<int:campaign_id>/send", methods=["POST"])
@bp.response(202, SendOut)
@requires("send")
def campaigns_send(campaign_id: int):
    """Start sending now (consent rule and suppression applied; exactly once)."""
    campaign = _campaign_or_404(campaign_id)
    recipients = control.start_send(actor=None, client=g.client, campaign=campaign)
    db.session.commit()
    return {"id": campaign.id, "status": campaign.status, "recipients": recipients}


@bp.route("/campaigns/<int:campaign_id>/statistics", methods=["GET"])
@bp.response(200, CampaignStats)
@requires("read")
def campaigns_statistics(campaign_id: int):
    """Sent, delivered, bounces, unique and total opens and clicks, unsubscribes, complaints."""
    campaign = _campaign_or_404(campaign_id)
    stats = reports.campaign_stats(g.client, [campaign.id]).get(campaign.id) or reports.Stats()
    return {k: getattr(stats, k) for k in CampaignStats().fields}
