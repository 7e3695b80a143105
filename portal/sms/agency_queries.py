"""SMS volumes per client for the agency's overview, in one grouped query."""

from __future__ import annotations

from sqlalchemy import func, select

from ..extensions import db
from ..models import Delivery


def client_volumes(agency_id: int) -> dict[int, dict]:
    rows = db.session.execute(
        select(
            Delivery.client_id,
            func.count().filter(Delivery.status == "sent"),
            func.count().filter(Delivery.status == "failed"),
            func.coalesce(func.sum(Delivery.credits).filter(Delivery.credit_state == "consumed"), 0),
        )
        .where(Delivery.agency_id == agency_id, Delivery.channel == "sms")
        .group_by(Delivery.client_id)
    ).all()
    return {cid: {"sent": s, "failed": f, "credits": int(c)} for cid, s, f, c in rows}
