"""Provider-side jobs: ids in; the providers package does the work."""

from __future__ import annotations

from ..models import Campaign, Connection
from ..providers.pull import pull_all, pull_connection
from ..providers.send import run_send
from .runner import register


@register("providers.send", owns={"campaign_id": Campaign})
def run_provider_send(campaign_id: int) -> str:
    return run_send(campaign_id)


@register("providers.pull_all")
def run_pull_all() -> list[int]:
    return pull_all()


@register("providers.pull", owns={"connection_id": Connection})
def run_pull(connection_id: int) -> dict:
    return pull_connection(connection_id)
