"""Delivery reports from an HTTP SMS gateway: the delivery found by our reference (or the gateway's id)
among the campaigns sent through that connection; an Event per report (through the events service),
idempotent by (client, source, report id); the delivery's credits consumed when delivered, released when
it failed — once.

A report can overtake the worker's own mark of the message as sent (the gateway answers, reports at once,
and the worker records the answer a moment later): such a report is refused with "not yet" so that the
gateway repeats it, and the worker's mark is never disturbed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from ..extensions import db
from ..models import Campaign, Connection, Delivery
from ..models.campaign import DELIVERY_CLAIMED, DELIVERY_FAILED, DELIVERY_PENDING, DELIVERY_SENT
from ..services import events
from .settle import settle_delivery

SOURCE = "sms-gateway"
OK, IGNORED, NOT_YET = "ok", "ignored", "not-yet"


@dataclass(frozen=True)
class Report:
    message_id: str
    reference: str
    status: str  # delivered | failed
    reason: str = ""


def parse_report(payload: dict) -> Report | None:
    status = str(payload.get("status", "")).lower()
    if status not in ("delivered", "failed"):
        return None
    return Report(
        message_id=str(payload.get("id", ""))[:255],
        reference=str(payload.get("reference", ""))[:64],
        status=status,
        reason=str(payload.get("reason", ""))[:300],
    )


def _delivery(connection: Connection, report: Report) -> Delivery | None:
    query = (
        select(Delivery)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(Campaign.connection_id == connection.id, Delivery.channel == "sms")
    )
    if report.reference.startswith("d") and report.reference[1:].isdigit():
        return db.session.scalar(query.where(Delivery.id == int(report.reference[1:])))
    if report.message_id:
        return db.session.scalar(query.where(Delivery.provider_message_id == report.message_id))
    return None


def record_report(connection: Connection, report: Report) -> str:
    delivery = _delivery(connection, report)
    if delivery is None:
        return IGNORED
    if delivery.status in (DELIVERY_PENDING, DELIVERY_CLAIMED):
        return NOT_YET
    event_id = f"dlr:{report.message_id or report.reference}:{report.status}"
    delivered = report.status == "delivered"
    # The events service records it once: a repeat, even one arriving while the first is being stored
    # (gateways post reports side by side), loses on the unique index and counts nothing.
    event = events.record_event(
        delivery,
        "delivered" if delivered else "bounce",
        event_id,
        source=SOURCE,
        bounce_class="" if delivered else "hard",
        detail=report.reason,
    )
    if event is None:
        return OK  # the same report again: already counted
    if not delivered and delivery.status == DELIVERY_SENT:
        db.session.execute(
            update(Delivery)
            .where(Delivery.id == delivery.id, Delivery.status == DELIVERY_SENT)
            .values(status=DELIVERY_FAILED, error=report.reason or "not delivered")
            .execution_options(synchronize_session=False)
        )
    settle_delivery(
        agency_id=delivery.agency_id,
        client_id=delivery.client_id,
        campaign_id=delivery.campaign_id,
        delivery_id=delivery.id,
        delivered=delivered,
    )
    db.session.flush()
    return OK
