"""Periodic job of the forms feature: expire double opt-in requests nobody confirmed."""

from __future__ import annotations

from ..jobs.runner import register
from . import optin


@register("forms.expire_pending")
def expire_pending() -> int:
    """Runs with no tenant bound (all clients); each request is handled with its own client bound."""
    return optin.expire_pending()
