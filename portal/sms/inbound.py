"""Inbound SMS: a recipient's reply reaches the client whose campaign last wrote to that number through
this connection. An opt-out keyword (the agency's list: STOP, ARRESTA, CANCELLAMI, STOPP, …) suppresses
SMS to that number for that client only — other clients of the agency keep their own consent; any other
reply is kept for the client to read."""

from __future__ import annotations

import re

from sqlalchemy import select

from ..extensions import db
from ..imports.addresses import InvalidAddress, normalise_phone
from ..models import Campaign, Client, Connection, Delivery, SmsAgencySettings, SmsReply
from ..models.sms import DEFAULT_STOP_KEYWORDS
from ..services import suppression

_WORD = re.compile(r"[^\w]+", re.UNICODE)


def stop_keywords(agency_id: int) -> set[str]:
    raw = db.session.scalar(
        select(SmsAgencySettings.stop_keywords).where(SmsAgencySettings.agency_id == agency_id)
    )
    return {
        k.strip().upper() for k in (raw if raw is not None else DEFAULT_STOP_KEYWORDS).split(",") if k.strip()
    }


def set_stop_keywords(agency_id: int, raw: str) -> None:
    words = [w.strip().upper() for w in (raw or "").split(",") if w.strip()]
    if not words:
        raise ValueError("Give at least one keyword.")
    row = db.session.scalar(select(SmsAgencySettings).where(SmsAgencySettings.agency_id == agency_id))
    if row is None:
        row = SmsAgencySettings(agency_id=agency_id)
        db.session.add(row)
    row.stop_keywords = ", ".join(dict.fromkeys(words))
    db.session.flush()


def is_opt_out(text: str, keywords: set[str]) -> bool:
    """The whole reply is one keyword (case, spaces and punctuation aside): "stop", "Stop!", "ARRESTA"."""
    return _WORD.sub("", text or "").upper() in keywords


def _last_delivery(connection: Connection, number: str) -> Delivery | None:
    return db.session.scalar(
        select(Delivery)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(Campaign.connection_id == connection.id, Delivery.channel == "sms", Delivery.address == number)
        .order_by(Delivery.id.desc())
        .limit(1)
    )


def record_inbound(connection: Connection, payload: dict) -> SmsReply | None:
    """None when the number never received anything through this connection (nothing to attach it to)."""
    try:
        number = normalise_phone(str(payload.get("from", "")), "")
    except InvalidAddress:
        return None
    provider_id = str(payload.get("id", ""))[:128]
    if not provider_id:
        return None
    existing = db.session.scalar(
        select(SmsReply).where(SmsReply.connection_id == connection.id, SmsReply.provider_id == provider_id)
    )
    if existing is not None:
        return existing
    delivery = _last_delivery(connection, number)
    if delivery is None:
        return None
    text = str(payload.get("text", ""))[:2000]
    opt_out = is_opt_out(text, stop_keywords(connection.agency_id))
    reply = SmsReply(
        agency_id=delivery.agency_id,
        client_id=delivery.client_id,
        connection_id=connection.id,
        provider_id=provider_id,
        phone=number,
        text=text,
        opt_out=opt_out,
        campaign_id=delivery.campaign_id,
    )
    db.session.add(reply)
    if opt_out:
        client = db.session.scalar(select(Client).where(Client.id == delivery.client_id))
        suppression.add(
            actor=None,
            client=client,
            channel="sms",
            raw_address=number,
            reason="unsubscribe",
            source="sms-reply",
            note=f"replied {text.strip()[:40]}",
        )
    db.session.flush()
    return reply


def replies(client_id: int, limit: int = 200) -> list[SmsReply]:
    return list(
        db.session.scalars(
            select(SmsReply).where(SmsReply.client_id == client_id).order_by(SmsReply.id.desc()).limit(limit)
        )
    )
