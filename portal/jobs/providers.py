"""Provider-side jobs: ids in; the providers package does the work."""

from __future__ import annotations

from ..providers.send import run_send
from .runner import register


@register("providers.send")
def run_provider_send(campaign_id: int) -> str:
    return run_send(campaign_id)
