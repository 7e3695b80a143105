"""The SMS of one delivery: the campaign's text with each recipient's merge values, its sender id, and
whether it needs UCS-2 (backends/base.py `OutgoingMessage.utf8` for SMS). Counting is portal/sms/segments.py.

Merge tags are the email editor's (`{{ first_name }}`) in a Jinja sandbox that sees only the contact's
own values; a tag that breaks for one recipient fails that delivery alone (MessageError).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from jinja2 import Template, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select, text

from ..backends.base import OutgoingMessage
from ..extensions import db
from ..models import Campaign, Client, SmsClientSettings, SmsSenderId
from ..models.sms import SENDER_APPROVED
from ..sms.quiet import quiet_until
from ..sms.segments import UCS2, count
from .email_content import MessageError

_env = SandboxedEnvironment(autoescape=False, undefined=Undefined)


class SmsTextError(ValueError):
    """The text's merge tags do not parse; the message says where."""


@dataclass(frozen=True)
class SmsContent:
    campaign_id: int
    template: Template
    sender: str


def parse_text(text: str) -> Template:
    try:
        return _env.from_string(text or "")
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        raise SmsTextError(f"SMS text: {exc.message}" + (f" (line {line})" if line else "")) from exc


def approved_sender(campaign: Campaign) -> str:
    """The campaign's sender id if the agency approved it, else ""."""
    if not campaign.sms_sender_id:
        return ""
    return (
        db.session.scalar(
            select(SmsSenderId.value).where(
                SmsSenderId.id == campaign.sms_sender_id, SmsSenderId.status == SENDER_APPROVED
            )
        )
        or ""
    )


def sms_content(campaign: Campaign) -> SmsContent:
    return SmsContent(campaign.id, parse_text(campaign.text), approved_sender(campaign))


def _quiet_hours(client_id: int) -> tuple[tuple[int, int] | None, str]:
    """The client's quiet hours as they are now (read per batch: a change applies to running sends) and
    its time zone, for numbers whose country has several."""
    settings = db.session.scalar(select(SmsClientSettings).where(SmsClientSettings.client_id == client_id))
    zone = db.session.scalar(select(Client.timezone).where(Client.id == client_id)) or "UTC"
    if settings is None or settings.quiet_from is None or settings.quiet_to is None:
        return None, zone
    return (settings.quiet_from, settings.quiet_to), zone


_HOLD = text(
    "UPDATE delivery SET status = 'pending', claim_token = NULL, lease_until = NULL, retry_after = :until, "
    "error = :why WHERE id = :id AND claim_token = :tok AND status = 'claimed'"
)


def hold_quiet_hours(client_id: int, token: str, rows: list) -> list:
    """The claimed rows that may go now; the others go back to pending until their quiet hours end (no
    attempt counted). The sweeper queues the campaign again once they are due."""
    window, zone = _quiet_hours(client_id)
    if window is None:
        return rows
    now = datetime.now(UTC)
    held, go = [], []
    for row in rows:
        until = quiet_until(row[2], window, zone, now)
        (held if until is not None else go).append((row, until))
    if held:
        db.session.execute(
            _HOLD,
            [
                {
                    "until": until.astimezone(UTC),
                    "why": "waiting for the end of the quiet hours",
                    "id": r[0],
                    "tok": token,
                }
                for r, until in held
            ],
        )
        db.session.commit()
    return [r for r, _ in go]


def render_sms(content: SmsContent, values: dict) -> str:
    """One recipient's text, exactly as it is sent and counted."""
    try:
        return content.template.render(values).strip()
    except Exception as exc:  # noqa: BLE001 — one recipient's data breaks only that recipient
        raise MessageError(
            f"the text could not be built for this recipient ({exc.__class__.__name__})"
        ) from exc


def compose_sms(content: SmsContent, delivery_id: int, number: str, values: dict) -> OutgoingMessage:
    text = render_sms(content, values)
    if not text:
        raise MessageError("the text is empty for this recipient")
    return OutgoingMessage(
        sender=content.sender,
        recipient=number,
        payload=text,
        utf8=count(text).encoding == UCS2,
        reference=f"d{delivery_id}" if delivery_id else "",
    )
