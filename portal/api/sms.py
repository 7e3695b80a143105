"""SMS send: one call creates an SMS campaign for an audience and sends it now (the SMS feature has no
scheduling yet, so neither has this resource), through the SMS feature's services (portal/sms: approved sender ids, GSM/UCS-2 segments, credits reserved at start,
consent rule on the SMS channel). Where that feature is not installed the resource answers 501
`sms_unavailable`, documented in the same place."""

from __future__ import annotations

from flask import g

from ..extensions import db
from . import bp
from .auth import requires
from .campaigns import campaign_dict
from .errors import ApiError
from .schemas import CampaignOut, SmsIn

try:  # the SMS feature (issue 9) is a separate package; the API works without it
    from ..sms import campaigns as sms_campaigns
    from ..sms import sending as sms_sending
except ImportError:  # pragma: no cover - depends on the deployment's feature set
    sms_campaigns = sms_sending = None


@bp.route("/sms/campaigns", methods=["POST"])
@bp.arguments(SmsIn)
@bp.response(202, CampaignOut, description="Created and sending")
@requires("send")
def sms_send(data):
    """Send an SMS to an audience: lists/segments of contacts with a subscribed SMS subscription."""
    if sms_campaigns is None:
        raise ApiError(501, "sms_unavailable", "SMS sending is not available on this portal.")
    audience = data["audience"]
    if audience.get("exclude_lists") or audience.get("exclude_segments"):
        raise ApiError(
            422,
            "unsupported_audience",
            "SMS audiences take lists and segments to include only.",
            {"json.audience": ["exclude_lists and exclude_segments are not supported for SMS"]},
        )
    campaign = sms_campaigns.create_sms_campaign(actor=None, client=g.client, name=data["name"])
    sms_campaigns.save_sms_campaign(
        actor=None,
        campaign=campaign,
        name=data["name"],
        sender_id=data["sender_id"] if data["sender_id"] is not None else campaign.sms_sender_id,
        text=data["text"],
        lists=audience.get("lists"),
        segments=audience.get("segments"),
    )
    sms_sending.start_sms_send(actor=None, client=g.client, campaign=campaign)
    db.session.commit()
    return campaign_dict(campaign)
