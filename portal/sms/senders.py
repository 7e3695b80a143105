"""Sender ids: a client asks for one (up to 11 letters and digits with at least one letter, or a phone
number of up to 15 digits), the agency approves or rejects it; only approved ones can send."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from ..extensions import db
from ..models import Client, SmsSenderId, User
from ..models.sms import SENDER_APPROVED, SENDER_REJECTED, SENDER_REQUESTED
from ..services import DomainError, NotFound
from ..services.audit import record
from ..services.i18n_safe import _

ALPHANUMERIC = re.compile(r"^[A-Za-z0-9]{1,11}$")
NUMERIC = re.compile(r"^\+?[1-9][0-9]{3,14}$")


def validate(value: str) -> str:
    value = (value or "").strip().replace(" ", "")
    if NUMERIC.match(value):
        return value
    if ALPHANUMERIC.match(value) and any(c.isalpha() for c in value):
        return value
    raise DomainError(
        _(
            "Sender id: up to 11 letters and digits (no spaces or accents), or a phone number of up to 15 digits."
        )
    )


def request_sender(*, actor: User | None, client: Client, value: str) -> SmsSenderId:
    value = validate(value)
    if db.session.scalar(
        select(SmsSenderId.id).where(SmsSenderId.client_id == client.id, SmsSenderId.value == value)
    ):
        raise DomainError(_("The sender id %(value)s was already requested.", value=value))
    sender = SmsSenderId(
        agency_id=client.agency_id,
        client_id=client.id,
        value=value,
        status=SENDER_REQUESTED,
        requested_by_id=actor.id if actor else None,
    )
    db.session.add(sender)
    db.session.flush()
    record("sms.sender_requested", actor=actor, agency_id=client.agency_id, client_id=client.id, target=value)
    return sender


def get_sender(sender_id: int) -> SmsSenderId:
    sender = db.session.scalar(select(SmsSenderId).where(SmsSenderId.id == sender_id))
    if sender is None:
        raise NotFound("sender id")
    return sender


def decide(*, actor: User | None, sender: SmsSenderId, approve: bool, note: str = "") -> None:
    sender.status = SENDER_APPROVED if approve else SENDER_REJECTED
    sender.note = "" if approve else (note or "").strip()[:500]
    sender.decided_at = datetime.now(UTC)
    db.session.flush()
    record(
        "sms.sender_approved" if approve else "sms.sender_rejected",
        actor=actor,
        agency_id=sender.agency_id,
        client_id=sender.client_id,
        target=sender.value,
    )


def senders_of(client_id: int | None = None, status: str | None = None) -> list[SmsSenderId]:
    query = select(SmsSenderId).order_by(SmsSenderId.created_at.desc(), SmsSenderId.id.desc())
    if client_id is not None:
        query = query.where(SmsSenderId.client_id == client_id)
    if status:
        query = query.where(SmsSenderId.status == status)
    return list(db.session.scalars(query))
