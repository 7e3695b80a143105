"""SMS jobs: ids in; the sms package does the work."""

from __future__ import annotations

from ..sms.settle import settle_stale
from .runner import register


@register("sms.settle_stale")
def run_settle_stale() -> int:
    return settle_stale()
