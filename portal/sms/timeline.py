"""Delivered and failed SMS per hour over the first 48 hours of a campaign (UTC), counted in SQL from the
delivery reports. Shaped for static/js/charts.js, whose two series are named "opens" and "clicks": here
they carry delivered and failed, with the page's own labels."""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy import func, select

from ..extensions import db
from ..models import Campaign, Event

HOURS = 48


def _hour():
    if db.engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", Event.created_at), "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", Event.created_at)


def hourly(campaign: Campaign) -> dict:
    if campaign.started_at is None:
        return {"hourly": {"labels": [], "display": [], "opens": [], "clicks": []}}
    first = campaign.started_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = [first + timedelta(hours=i) for i in range(HOURS)]
    labels = [h.strftime("%Y-%m-%d %H") for h in hours]
    index = {label: i for i, label in enumerate(labels)}
    delivered, failed = [0] * HOURS, [0] * HOURS
    bucket = _hour()
    rows = db.session.execute(
        select(bucket, Event.kind, func.count())
        .where(
            Event.client_id == campaign.client_id,
            Event.campaign_id == campaign.id,
            Event.channel == "sms",
            Event.kind.in_(("delivered", "bounce")),
            Event.created_at >= first,
            Event.created_at < hours[-1] + timedelta(hours=1),
        )
        .group_by(bucket, Event.kind)
    )
    for label, kind, n in rows:
        i = index.get(str(label))
        if i is not None:
            (delivered if kind == "delivered" else failed)[i] += n
    return {
        "hourly": {
            "labels": labels,
            "display": [h.strftime("%d/%m %H:00") for h in hours],
            "opens": delivered,
            "clicks": failed,
        }
    }
