"""The SMTP relay backend: one reused connection per worker process and relay, STARTTLS/SSL, AUTH, a
shared rate limit, and the relay's answers sorted by who they are about.

Only the relay's answer to RCPT or DATA is about the recipient (RecipientRefused for 5xx, TryLater for
4xx). Failing to connect, to log in, or a refused MAIL FROM (5.1.8 sender refused, 5.7.1 relaying
denied) is the relay's or our configuration's fault: BackendUnavailable, never a recipient's bounce.
No smtplib exception leaves this module.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from .base import BackendUnavailable, OutgoingMessage, RecipientRefused, TryLater, Withdrawn
from .ratelimit import TokenBucket

_ENHANCED = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


@dataclass(frozen=True)
class RelayConfig:
    host: str
    port: int
    tls: str = "none"  # none | starttls | ssl
    username: str = ""
    password: str = ""
    rate_per_s: float = 0  # 0 = no limit
    key: str = "default"  # identifies the relay for the shared rate limit
    timeout_s: float = 30


class SmtpRelay:
    IDLE_CHECK_S = 30
    lanes = 2  # see base.MessageBackend

    def __init__(self, config: RelayConfig, bucket: TokenBucket | None = None):
        self.config, self.bucket = config, bucket
        self.conn: smtplib.SMTP | None = None
        self.last_used = 0.0

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        context = ssl.create_default_context()
        try:
            if c.tls == "ssl":
                conn = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout_s, context=context)
            else:
                conn = smtplib.SMTP(c.host, c.port, timeout=c.timeout_s)
            conn.ehlo()
            if c.tls == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
            if c.username:
                conn.login(c.username, c.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise BackendUnavailable(f"the delivery service refused the login ({exc.smtp_code})") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise BackendUnavailable(f"cannot reach the delivery service ({_describe(exc)})") from exc
        return conn

    def _connection(self) -> smtplib.SMTP:
        if self.conn is not None and time.monotonic() - self.last_used > self.IDLE_CHECK_S:
            try:
                self.conn.noop()
            except (OSError, smtplib.SMTPException):
                self.close()
        if self.conn is None:
            self.conn = self._connect()
        return self.conn

    def supports_utf8_addresses(self) -> bool:
        return bool(self._connection().has_extn("smtputf8"))

    def send(self, message: OutgoingMessage, ready: Callable[[], bool] | None = None) -> str:
        """Hand one message over; returns the relay's answer to DATA (it carries the relay's queue id)."""
        if self.bucket is not None:
            self.bucket.take()
        for attempt in (1, 2):  # a connection reused after the relay dropped it gets one fresh retry
            transaction = _Transaction(self._connection())
            try:
                answer = transaction.run(message, ready)
            except smtplib.SMTPServerDisconnected as exc:
                self.drop()
                # Only before the content left: after it, the relay may have queued the message.
                if attempt == 2 or transaction.content_sent:
                    raise BackendUnavailable("the delivery service closed the connection") from exc
            except (TimeoutError, OSError) as exc:
                self.drop()  # a broken socket: QUIT would only wait for the timeout again
                raise BackendUnavailable(
                    f"network error talking to the delivery service ({_describe(exc)})"
                ) from exc
            except BaseException:
                if transaction.in_data:  # withdrawn, or `ready` failed: closing abandons the message
                    self.drop()
                raise
            else:
                self.last_used = time.monotonic()
                return answer
        raise BackendUnavailable("the delivery service closed the connection")

    def drop(self) -> None:
        """Close without QUIT (which, during DATA, would be read as message content)."""
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
        self.conn = None


class _Transaction:
    """One message's MAIL, RCPT and DATA on an open connection. `ready` is asked after the relay's 354,
    the last moment before the message becomes the relay's: nothing is delivered until the final dot."""

    def __init__(self, conn: smtplib.SMTP):
        self.conn = conn
        self.in_data = False
        self.content_sent = False

    def run(self, message: OutgoingMessage, ready: Callable[[], bool] | None) -> str:
        conn = self.conn
        options = ["SMTPUTF8"] if message.utf8 else []
        if message.utf8 and not conn.has_extn("smtputf8"):
            raise RecipientRefused(
                "the address has non-ASCII characters before the @ and the delivery service does not "
                "accept such addresses (SMTPUTF8)",
                bounce=False,
            )
        for address in (message.sender, message.recipient):
            if not _carriable(address):
                raise RecipientRefused(f"the address cannot be carried: {address!r}", bounce=False)
        conn.command_encoding = "utf-8" if message.utf8 else "ascii"
        code, answer = _envelope(conn, "MAIL FROM", message.sender, options)
        if code != 250:
            conn.rset()
            raise BackendUnavailable(f"the delivery service refused the sender: {_text(code, answer)}")
        code, answer = _envelope(conn, "RCPT TO", message.recipient, [])
        if code not in (250, 251):
            conn.rset()
            raise _about_recipient(code, answer)
        code, answer = conn.docmd("DATA")
        if code != 354:
            conn.rset()
            if 500 <= code <= 503:  # DATA itself unknown, malformed or out of sequence: nobody's bounce
                raise BackendUnavailable(f"the delivery service refused DATA: {_text(code, answer)}")
            raise _about_recipient(code, answer)
        self.in_data = True
        if ready is not None and not ready():
            raise Withdrawn("the message was withdrawn before delivery")
        payload = message.payload if isinstance(message.payload, bytes) else message.payload.encode()
        self.content_sent = True
        conn.send(_dot_stuffed(payload))
        code, answer = conn.getreply()
        self.in_data = False
        if code != 250:
            raise _about_recipient(code, answer)
        return answer.decode(errors="replace")[:255]


def _envelope(conn: smtplib.SMTP, command: str, address: str, options: list[str]) -> tuple[int, bytes]:
    """MAIL FROM / RCPT TO with an address already in wire form (backends/addresses.py, checked by
    `_carriable`), without smtplib's re-parsing of it."""
    verb, keyword = command.split(" ")
    conn.putcmd(verb, f"{keyword}:<{address}>" + "".join(f" {o}" for o in options))
    return conn.getreply()


def _carriable(address: str) -> bool:
    """Nothing that could end the command line or the path."""
    return bool(address) and not any(c in address for c in "\r\n<> ")


_LEADING_DOT = re.compile(rb"(?m)^\.")


def _dot_stuffed(payload: bytes) -> bytes:
    """The DATA content as RFC 5321 §4.5.2 wants it: leading dots doubled, CRLF-terminated, then "."."""
    data = _LEADING_DOT.sub(b"..", payload)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _text(code: int, detail: bytes | str) -> str:
    text = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
    return f"{code} {text}".strip()


def _about_recipient(code: int, detail: bytes | str) -> Exception:
    text = _text(code, detail)
    if 500 <= code < 600:
        match = _ENHANCED.search(text)
        return RecipientRefused(text, code=code, status=match.group(1) if match else f"{code // 100}.0.0")
    if 400 <= code < 500:
        return TryLater(text)
    # Anything else (a garbled reply, code -1 after a drop) says nothing about the recipient.
    return BackendUnavailable(f"unexpected answer from the delivery service: {text}")


def _describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return _text(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return exc.__class__.__name__
