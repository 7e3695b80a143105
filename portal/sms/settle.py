"""Reserved credits settle once per delivery: each delivery's credit_state moves conditionally from
"reserved" to "consumed" or "released" and only the rows this statement moved are booked, so a report
received twice, two workers finishing together, or a cancel racing a send never book the same credits
twice (portal/sms/credits.py keeps the balances)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from ..extensions import db
from ..models import Campaign, Connection, Delivery
from ..models.connection import KIND_SMS
from ..sending.backend import gateway_config
from ..tenancy import all_tenants, bind_tenant
from . import credits

# Rows that will never be delivered give their credits back.
_RELEASE_UNSENT = text(
    "UPDATE delivery SET credit_state = 'released' WHERE campaign_id = :c AND client_id = :cl "
    "AND credit_state = 'reserved' AND status IN ('failed', 'skipped') RETURNING credits"
)
# Where the gateway reports nothing, a message accepted is a message paid.
_CONSUME_SENT = text(
    "UPDATE delivery SET credit_state = 'consumed' WHERE campaign_id = :c AND client_id = :cl "
    "AND credit_state = 'reserved' AND status = 'sent' RETURNING credits"
)
_ONE = text(
    "UPDATE delivery SET credit_state = :to WHERE id = :id AND client_id = :cl AND credit_state = 'reserved' "
    "RETURNING credits"
)


def settle_campaign(
    *, agency_id: int, client_id: int, campaign_id: int, consume_sent: bool
) -> tuple[int, int]:
    """Release what failed or was skipped (and consume what was sent when no report will come)."""
    params = {"c": campaign_id, "cl": client_id}
    released = sum(r[0] for r in db.session.execute(_RELEASE_UNSENT, params))
    consumed = sum(r[0] for r in db.session.execute(_CONSUME_SENT, params)) if consume_sent else 0
    credits.settle(
        agency_id=agency_id,
        client_id=client_id,
        campaign_id=campaign_id,
        consumed=consumed,
        released=released,
    )
    return consumed, released


def settle_delivery(
    *, agency_id: int, client_id: int, campaign_id: int, delivery_id: int, delivered: bool
) -> int:
    """One delivery's report: its credits consumed (delivered) or released (failed); 0 if already settled."""
    state = "consumed" if delivered else "released"
    row = db.session.execute(_ONE, {"to": state, "id": delivery_id, "cl": client_id}).first()
    if row is None:
        return 0
    amount = int(row[0])
    credits.settle(
        agency_id=agency_id,
        client_id=client_id,
        campaign_id=campaign_id,
        consumed=amount if delivered else 0,
        released=0 if delivered else amount,
    )
    return amount


def after_batches(campaign_id: int) -> None:
    """After a worker's run over an SMS campaign (and after a cancel): settle what can be settled now.
    Sent messages wait for their delivery report, unless the connection sends none."""
    campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id))
    if campaign is None or campaign.channel != "sms":
        return
    conn = (
        db.session.scalar(select(Connection).where(Connection.id == campaign.connection_id))
        if campaign.connection_id
        else None
    )
    consume_sent = conn is None or conn.kind != KIND_SMS or not gateway_config(conn).reports
    settle_campaign(
        agency_id=campaign.agency_id,
        client_id=campaign.client_id,
        campaign_id=campaign.id,
        consume_sent=consume_sent,
    )
    db.session.commit()


STALE_AFTER = timedelta(hours=72)


def settle_stale(now: datetime | None = None) -> int:
    """Messages accepted by the gateway whose delivery report never came: after STALE_AFTER they are paid
    as sent (the gateway took them). Runs across tenants (platform maintenance), one campaign at a time
    with its tenant bound; returns the credits consumed."""
    cutoff = (now or datetime.now(UTC)) - STALE_AFTER
    with all_tenants():
        stale = db.session.execute(
            select(Delivery.agency_id, Delivery.client_id, Delivery.campaign_id)
            .where(
                Delivery.channel == "sms",
                Delivery.status == "sent",
                Delivery.credit_state == "reserved",
                Delivery.sent_at < cutoff,
            )
            .distinct()
        ).all()
    total = 0
    for agency_id, client_id, campaign_id in stale:
        with bind_tenant(agency_id, client_id):
            consumed = sum(
                r[0]
                for r in db.session.execute(
                    _CONSUME_STALE, {"c": campaign_id, "cl": client_id, "cutoff": cutoff}
                )
            )
            credits.settle(
                agency_id=agency_id,
                client_id=client_id,
                campaign_id=campaign_id,
                consumed=consumed,
                released=0,
            )
            db.session.commit()
            total += consumed
    return total


_CONSUME_STALE = text(
    "UPDATE delivery SET credit_state = 'consumed' WHERE campaign_id = :c AND client_id = :cl "
    "AND credit_state = 'reserved' AND status = 'sent' AND sent_at < :cutoff RETURNING credits"
)
