"""Reading what mailbox providers send back: delivery status notifications (RFC 3464) and feedback reports
(ARF, RFC 5965), plus the tokens of ours inside the returned original that say which delivery it was.

Pure functions over bytes: nothing here touches the database. Anything that is not a report we understand
comes back as kind "other" (the caller keeps a copy for review) — a parser must never crash on garbage.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import message_from_bytes, message_from_string, policy
from email.message import Message

_CODE = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_UNSUB_URL = re.compile(r"/u/([A-Za-z0-9_-]{20,200})(?=[>\s,?#]|$)")
_VERP = re.compile(r"\bb\+([A-Za-z0-9_-]{20,200})@", re.I)
_MSGID_TOKEN = re.compile(r"<([A-Za-z0-9_-]{20,200})@")

MAX_PARTS = 50  # a report has three parts; anything deeper or wider is not one


@dataclass
class RecipientStatus:
    final_recipient: str = ""
    original_recipient: str = ""
    action: str = ""
    status: str = ""
    diagnostic: str = ""

    @property
    def code(self) -> str:
        """The enhanced status code: Status, else one quoted in Diagnostic-Code, else by Action."""
        for text in (self.status, self.diagnostic):
            m = _CODE.search(text or "")
            if m:
                return m.group(1)
        return "4.0.0" if self.action == "delayed" else "5.0.0"


@dataclass
class Report:
    kind: str  # "dsn" | "arf" | "other"
    digest: str  # sha256 of the raw message: identity when the report has no Message-ID
    message_id: str = ""
    recipients: list[RecipientStatus] = field(default_factory=list)
    feedback_type: str = ""
    original_rcpt_to: str = ""
    original: Message | None = None  # headers (and maybe body) of the message we sent

    @property
    def identity(self) -> str:
        return self.message_id or self.digest


def parse(raw: bytes) -> Report:
    digest = hashlib.sha256(raw).hexdigest()
    try:
        msg = message_from_bytes(raw, policy=policy.compat32)
    except Exception:  # the stdlib parser is lenient; this is belt and braces for truly broken input
        return Report(kind="other", digest=digest)
    report = Report(kind="other", digest=digest, message_id=_clean(msg.get("Message-ID", "")))
    try:
        if msg.get_content_type() != "multipart/report" or not msg.is_multipart():
            return report
        report_type = (msg.get_param("report-type") or "").lower()
        parts = list(msg.walk())[:MAX_PARTS]
        if report_type == "delivery-status":
            _read_dsn(report, parts)
        elif report_type == "feedback-report":
            _read_arf(report, parts)
        report.original = _original(parts)
    except Exception:
        return Report(kind="other", digest=digest, message_id=report.message_id)
    return report


def _read_dsn(report: Report, parts: list[Message]) -> None:
    for part in parts:
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if isinstance(blocks, str):  # some parsers leave it as text: split on blank lines ourselves
            blocks = [message_from_string(b) for b in re.split(r"\r?\n\r?\n", blocks.strip()) if b.strip()]
        for block in blocks[1:]:  # the first block is per-message (Reporting-MTA, Arrival-Date …)
            if not isinstance(block, Message):
                continue
            row = RecipientStatus(
                final_recipient=_address(block.get("Final-Recipient", "")),
                original_recipient=_address(block.get("Original-Recipient", "")),
                action=_clean(block.get("Action", "")).lower(),
                status=_clean(block.get("Status", "")),
                diagnostic=_clean(block.get("Diagnostic-Code", "")),
            )
            if row.final_recipient or row.action or row.status:
                report.recipients.append(row)
        break
    if report.recipients:
        report.kind = "dsn"


def _read_arf(report: Report, parts: list[Message]) -> None:
    for part in parts:
        if part.get_content_type() != "message/feedback-report":
            continue
        fields = _fields_of(part)
        if fields is None:
            continue
        feedback_type = _clean(fields.get("Feedback-Type", "")).lower()
        if feedback_type:
            report.kind = "arf"
            report.feedback_type = feedback_type
            report.original_rcpt_to = _address(fields.get("Original-Rcpt-To", ""))
        break


def _fields_of(part: Message) -> Message | None:
    """The fields of a message/feedback-report part (the stdlib parses it as an embedded message)."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    if isinstance(payload, str):
        return message_from_string(payload.lstrip())
    return None


def _original(parts: list[Message]) -> Message | None:
    for part in parts:
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        if ctype == "text/rfc822-headers":
            body = part.get_payload(decode=True) or b""
            return message_from_bytes(body.lstrip(), policy=policy.compat32)
    return None


def _clean(value) -> str:
    return " ".join(str(value or "").split())[:1000]


def _address(value) -> str:
    """'rfc822; Anna@Example.org' → 'anna@example.org'."""
    text = _clean(value)
    if ";" in text:
        text = text.split(";", 1)[1]
    return text.strip().strip("<>").strip().lower()


def original_tokens(report: Report) -> list[tuple[str, str]]:
    """(purpose, token) candidates found in the returned original, most specific first: the X-Send-Id
    header, the Message-ID (its left side is the same send token), the VERP return path, the one-click
    unsubscribe URL."""
    original = report.original
    if original is None:
        return []
    found: list[tuple[str, str]] = []
    send_id = _clean(original.get("X-Send-Id", ""))
    if send_id:
        found.append(("send", send_id))
    m = _MSGID_TOKEN.search(_clean(original.get("Message-ID", "")))
    if m:
        found.append(("send", m.group(1)))
    m = _VERP.search(_clean(original.get("Return-Path", "")))
    if m:
        found.append(("bounce", m.group(1)))
    m = _UNSUB_URL.search(_clean(original.get("List-Unsubscribe", "")))
    if m:
        found.append(("unsubscribe", m.group(1)))
    return found
