"""One inbound message (with its SMTP envelope) → the right recording, in the right tenant.

Attribution comes only from tokens we signed: the envelope recipient `b+<bounce token>@<bounce domain>`
(VERP), else the X-Send-Id / Message-ID / Return-Path / List-Unsubscribe token in the returned original. An
address named in a report never selects a tenant (the same address may be a contact of several). A
message to `unsubscribe+<token>@<bounce domain>` is an unsubscribe request by email (RFC 2369 mailto).

Needs an app context; binds the tenant of the delivery it finds. Commits once per message.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..mail import tokens
from ..models import Client, Delivery
from ..services import events
from ..services.reputation import check_client
from ..tenancy import all_tenants, bind_tenant
from .classify import classify_status
from .parse import RecipientStatus, Report, original_tokens, parse

log = logging.getLogger("portal.inbound")

COMPLAINT_TYPES = ("abuse", "fraud", "virus", "other")
_HEADER_UNSAFE = re.compile(r"[\r\n]")


@dataclass
class Outcome:
    """What happened to one message: recorded | duplicate | alert | ignored | unattributed | unparsed."""

    result: str
    kind: str = ""  # bounce / complaint / unsubscribe / auth-failure
    delivery_id: int | None = None
    detail: str = ""
    kept_as: str = ""  # file name under instance/inbound-unparsed/ when the message was held for review


def process_message(raw: bytes, rcpt_tos: list[str], mail_from: str = "") -> Outcome:
    settings = current_app.config["PORTAL_SETTINGS"]
    verp, unsubscribes = _envelope_tokens(rcpt_tos, settings.bounce_domain)
    if unsubscribes:
        return _unsubscribe_by_mail(unsubscribes)
    report = parse(raw)
    if report.kind == "other":
        return _hold(raw, rcpt_tos, mail_from, "unparsed", "not a delivery-status or feedback report")
    delivery_id = verp[0] if verp else _from_original(report)
    if delivery_id == 0:
        log.info("inbound %s report about a test message ignored", report.kind)
        return Outcome("ignored", detail="test message")
    delivery = _delivery(delivery_id) if delivery_id else None
    if delivery is None:
        return _hold(raw, rcpt_tos, mail_from, "unattributed", f"no delivery found for this {report.kind}")
    with bind_tenant(delivery.agency_id, delivery.client_id):
        if report.kind == "dsn":
            outcome = _bounce(delivery, report)
        else:
            outcome = _feedback(delivery, report)
        if outcome.result == "unparsed":
            db.session.rollback()
            return _hold(raw, rcpt_tos, mail_from, "unparsed", outcome.detail)
        db.session.commit()
    log.info("inbound %s for delivery %s: %s %s", outcome.kind, delivery.id, outcome.result, outcome.detail)
    return outcome


def _envelope_tokens(rcpt_tos: list[str], bounce_domain: str) -> tuple[list[int], list[int]]:
    verp, unsubscribes = [], []
    for rcpt in rcpt_tos:
        local, _, domain = rcpt.strip().strip("<>").rpartition("@")
        if domain.lower().rstrip(".") != bounce_domain.lower():
            continue
        prefix, plus, token = local.partition("+")
        if not plus:
            continue
        if prefix.lower() == "b":
            numbers = tokens.read("bounce", token)
            if numbers is not None:
                verp.append(numbers[0])
        elif prefix.lower() == "unsubscribe":
            numbers = tokens.read("unsubscribe", token)
            if numbers is not None:
                unsubscribes.append(numbers[0])
    return verp, unsubscribes


def _from_original(report: Report) -> int | None:
    for purpose, token in original_tokens(report):
        numbers = tokens.read(purpose, token)
        if numbers is not None:
            return numbers[0]
    return None


def _delivery(delivery_id: int) -> Delivery | None:
    # The token was verified above; the delivery it names decides the tenant.
    with all_tenants():
        delivery = db.session.scalar(select(Delivery).where(Delivery.id == delivery_id))
        if delivery is not None:
            db.session.expunge(delivery)  # a plain value object from here on
    return delivery


def _unsubscribe_by_mail(delivery_ids: list[int]) -> Outcome:
    outcome = Outcome("ignored", kind="unsubscribe", detail="test message")
    for delivery_id in delivery_ids:
        if delivery_id == 0:
            continue
        delivery = _delivery(delivery_id)
        if delivery is None:
            outcome = Outcome("unattributed", kind="unsubscribe", detail="no such delivery")
            continue
        with bind_tenant(delivery.agency_id, delivery.client_id):
            changed = events.apply_unsubscribe(delivery, source="mailto")
            db.session.commit()
        outcome = Outcome("recorded" if changed else "duplicate", kind="unsubscribe", delivery_id=delivery.id)
        log.info("inbound unsubscribe by mail for delivery %s: %s", delivery.id, outcome.result)
    return outcome


def _pick(delivery: Delivery, rows: list[RecipientStatus]) -> RecipientStatus | None:
    mine = [r for r in rows if r.final_recipient == delivery.address.lower()] or rows
    for row in mine:
        if row.action in ("failed", "delayed"):
            return row
    return None


def _bounce(delivery: Delivery, report: Report) -> Outcome:
    row = _pick(delivery, report.recipients)
    if row is None:
        actions = ",".join(sorted({r.action for r in report.recipients})) or "none"
        return Outcome("ignored", kind="bounce", delivery_id=delivery.id, detail=f"action {actions}")
    code = row.code
    bounce_class = classify_status(code)
    if row.action == "delayed" and bounce_class == "hard":
        bounce_class = "soft"  # still being retried: never a reason to give up on the address
    key = sha256(f"{report.identity}|{row.final_recipient}".encode()).hexdigest()[:40]
    event = events.apply_bounce(
        delivery,
        bounce_class=bounce_class,
        status_code=code,
        detail=(row.diagnostic or row.action)[:500],
        provider_event_id=f"dsn:{delivery.id}:{key}",
    )
    return Outcome(
        "recorded" if event is not None else "duplicate",
        kind="bounce",
        delivery_id=delivery.id,
        detail=f"{bounce_class} {code}",
    )


def _feedback(delivery: Delivery, report: Report) -> Outcome:
    kind = report.feedback_type
    key = sha256(f"{report.identity}|{kind}".encode()).hexdigest()[:40]
    if kind in COMPLAINT_TYPES:
        event = events.apply_complaint(
            delivery, feedback_type=kind, provider_event_id=f"arf:{delivery.id}:{key}"
        )
        if event is not None:  # above the complaint-rate limit the client's sends pause
            check_client(db.session.scalar(select(Client).where(Client.id == delivery.client_id)))
        result = "recorded" if event is not None else "duplicate"
        return Outcome(result, kind="complaint", delivery_id=delivery.id, detail=kind)
    if kind == "auth-failure":
        made = events.alert(
            delivery,
            kind="auth-failure",
            detail="authentication failure report",
            key=f"arf:{delivery.id}:{key}",
        )
        return Outcome("alert" if made else "duplicate", kind=kind, delivery_id=delivery.id)
    if kind == "not-spam":
        return Outcome("ignored", kind=kind, delivery_id=delivery.id)
    return Outcome("unparsed", kind=kind, delivery_id=delivery.id, detail=f"unknown feedback type {kind!r}")


def _hold(raw: bytes, rcpt_tos: list[str], mail_from: str, result: str, why: str) -> Outcome:
    """Keep a copy for review under instance/inbound-unparsed/ (a name we choose, never one from the
    message) and record nothing about any contact."""
    directory = Path(current_app.config["PORTAL_SETTINGS"].instance_dir) / "inbound-unparsed"
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex}.eml"
    envelope = (
        f"X-Inbound-Mail-From: {_HEADER_UNSAFE.sub('', mail_from or '')}\r\n"
        f"X-Inbound-Rcpt-To: {_HEADER_UNSAFE.sub('', ', '.join(rcpt_tos))}\r\n"
        f"X-Inbound-Held: {result}: {_HEADER_UNSAFE.sub('', why)}\r\n"
    ).encode()
    tmp = directory / f".{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(envelope)
        fh.write(raw)
    os.replace(tmp, directory / name)
    log.warning("inbound message held for review as %s (%s: %s)", name, result, why)
    return Outcome(result, detail=why, kept_as=name)
