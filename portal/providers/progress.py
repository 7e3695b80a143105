"""Where a provider-side send stands, in words for the campaign page (never naming the provider): the
steps of send.py read back from the campaign's provider_state."""

from __future__ import annotations

from ..models import Campaign
from ..models.campaign import CAMPAIGN_SENDING
from ..services.i18n_safe import _


def step_message(campaign: Campaign) -> str | None:
    """None when the campaign is not a provider-side send in progress."""
    state = campaign.provider_state or {}
    if campaign.status != CAMPAIGN_SENDING or not state.get("ref"):
        return None
    if not state.get("audience_done"):
        return _("Handing the recipients over to the delivery service…")
    if not state.get("message_id"):
        return _("Preparing the message…")
    return _("Starting the send…")
