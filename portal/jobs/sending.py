"""Send jobs: ids in; the sending package does the work."""

from __future__ import annotations

from ..models import Campaign
from ..sending.batches import send_batches
from ..sending.sweeper import sweep
from ..sms.settle import after_batches
from .runner import register


@register("sending.send_batches", owns={"campaign_id": Campaign})
def run_send_batches(campaign_id: int) -> int:
    sent = send_batches(campaign_id)
    after_batches(campaign_id)  # SMS: credits of failed, skipped (and unreported) messages settle
    return sent


@register("sending.sweep")
def run_sweep() -> dict:
    return sweep()
