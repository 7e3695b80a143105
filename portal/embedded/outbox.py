"""Read side of the SMTP capture directory (see :mod:`portal.embedded.smtp_capture`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from pathlib import Path

MESSAGE_ID_RE = re.compile(r"^[0-9T]+-[0-9a-f]{32}$")


@dataclass(frozen=True)
class CapturedMessage:
    id: str
    received_at: datetime | None
    mail_from: str
    rcpt_to: list[str]
    subject: str
    from_: str  # the From header (``from`` is a Python keyword)
    to: str


def _received_at(message_id: str) -> datetime | None:
    try:
        return datetime.strptime(message_id.split("-", 1)[0], "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
    except ValueError:
        return None


def _header(msg, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a malformed header must not break the listing
        return ""
    return str(value) if value is not None else ""


def _rcpts(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def list_messages(directory, limit: int = 200) -> list[CapturedMessage]:
    """The newest ``limit`` captured messages, newest first. A missing directory is empty."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    names = sorted(
        (p for p in directory.iterdir() if p.suffix == ".eml" and MESSAGE_ID_RE.match(p.stem)),
        key=lambda p: p.stem,
        reverse=True,
    )
    parser = BytesHeaderParser(policy=policy.default)
    result = []
    for path in names[: max(limit, 0)]:
        try:
            with open(path, "rb") as fh:
                msg = parser.parse(fh)
        except OSError:
            continue  # removed meanwhile
        result.append(
            CapturedMessage(
                id=path.stem,
                received_at=_received_at(path.stem),
                mail_from=_header(msg, "X-Capture-Mail-From"),
                rcpt_to=_rcpts(_header(msg, "X-Capture-Rcpt-To")),
                subject=_header(msg, "Subject"),
                from_=_header(msg, "From"),
                to=_header(msg, "To"),
            )
        )
    return result


def _path_for(directory, message_id: str) -> Path:
    if not isinstance(message_id, str) or not MESSAGE_ID_RE.match(message_id):
        raise KeyError(message_id)
    path = Path(directory) / f"{message_id}.eml"
    if not path.is_file():
        raise KeyError(message_id)
    return path


def _part_text(part) -> str:
    try:
        return part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", "replace")


def read_message(directory, message_id: str) -> tuple[list[tuple[str, str]], str, str, bytes]:
    """``(headers, text body, html body, raw bytes)`` of one captured message.

    Raises KeyError when ``message_id`` is malformed (e.g. a path traversal attempt) or not found.
    """
    path = _path_for(directory, message_id)
    raw = path.read_bytes()
    msg: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)
    headers = []
    for name, value in msg.raw_items():
        try:
            headers.append((name, str(msg.policy.header_fetch_parse(name, value))))
        except Exception:
            headers.append((name, str(value)))
    text = html = ""
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    if text_part is not None:
        text = _part_text(text_part)
    if html_part is not None:
        html = _part_text(html_part)
    return headers, text, html, raw
