"""What a client has used of its monthly email quota: one figure for the check that refuses a send over
the quota (sending/control.py) and for what the client sees on its dashboard and settings page.

Shared core (DESIGN.md §4): features import it, it imports only models.

"Used" is what is committed to go out this month: every email of the campaigns started this month that
was not skipped — sent, still waiting to be sent, or failed. A waiting message counts already, so two
campaigns started back to back cannot both fit into the same remainder; a cancelled campaign's waiting
messages become skipped and give their share back. Months are calendar months in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from .extensions import db
from .models import Campaign, Client, Delivery
from .models.audience import CHANNEL_EMAIL
from .models.campaign import DELIVERY_SKIPPED


def month_start(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def emails_used_this_month(client: Client) -> int:
    """Emails of campaigns started this month that were not skipped (SMS messages spend credits, not
    this quota)."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Delivery)
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(
                Delivery.client_id == client.id,
                Delivery.channel == CHANNEL_EMAIL,
                Campaign.started_at >= month_start(),
                Delivery.status != DELIVERY_SKIPPED,
            )
        )
        or 0
    )
