"""Send jobs: ids in; the sending package does the work."""

from __future__ import annotations

from ..sending.batches import send_batches
from ..sending.sweeper import sweep
from .runner import register


@register("sending.send_batches")
def run_send_batches(campaign_id: int) -> int:
    return send_batches(campaign_id)


@register("sending.sweep")
def run_sweep() -> dict:
    return sweep()
