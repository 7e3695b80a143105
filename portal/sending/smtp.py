"""The SMTP relay backend: one reused connection per worker process and relay, STARTTLS/SSL, AUTH, a
shared rate limit, and errors sorted into permanent (the recipient is refused) and temporary (retry)."""

from __future__ import annotations

import smtplib
import ssl
import time
from dataclasses import dataclass

from .ratelimit import TokenBucket


class PermanentFailure(Exception):
    """The relay refused this recipient or message for good (5xx). `code` and `detail` say why."""

    def __init__(self, code: int, detail: str):
        super().__init__(f"{code} {detail}")
        self.code, self.detail = code, detail


class TemporaryFailure(Exception):
    """Try again later: 4xx, a dropped connection, a timeout."""


@dataclass(frozen=True)
class RelayConfig:
    host: str
    port: int
    tls: str = "none"  # none | starttls | ssl
    username: str = ""
    password: str = ""
    rate_per_s: float = 0  # 0 = no limit
    key: str = "default"  # identifies the relay for the shared rate limit


class SmtpRelay:
    IDLE_CHECK_S = 30

    def __init__(self, config: RelayConfig, bucket: TokenBucket | None = None):
        self.config, self.bucket = config, bucket
        self.conn: smtplib.SMTP | None = None
        self.last_used = 0.0

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        context = ssl.create_default_context()
        try:
            if c.tls == "ssl":
                conn = smtplib.SMTP_SSL(c.host, c.port, timeout=30, context=context)
            else:
                conn = smtplib.SMTP(c.host, c.port, timeout=30)
            conn.ehlo()
            if c.tls == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
            if c.username:
                conn.login(c.username, c.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise TemporaryFailure(f"the relay refused the login ({exc.smtp_code})") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(
                f"cannot reach the relay {c.host}:{c.port} ({exc.__class__.__name__})"
            ) from exc
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

    def send(self, mail_from: str, rcpt: str, raw: bytes) -> str:
        """Hand one message over; returns the relay's answer to DATA (it carries the relay's queue id)."""
        if self.bucket is not None:
            self.bucket.take()
        for attempt in (1, 2):  # a connection reused after the relay dropped it gets one fresh retry
            conn = self._connection()
            try:
                return self._transaction(conn, mail_from, rcpt, raw)
            except smtplib.SMTPServerDisconnected as exc:
                self.close()
                if attempt == 2:
                    raise TemporaryFailure("the relay closed the connection") from exc
            except (TimeoutError, OSError) as exc:
                self.close()
                raise TemporaryFailure(
                    f"network error talking to the relay ({exc.__class__.__name__})"
                ) from exc
        raise TemporaryFailure("the relay closed the connection")

    def _transaction(self, conn: smtplib.SMTP, mail_from: str, rcpt: str, raw: bytes) -> str:
        code, answer = conn.mail(mail_from)
        if code != 250:
            conn.rset()
            raise _classify(code, answer)
        code, answer = conn.rcpt(rcpt)
        if code not in (250, 251):
            conn.rset()
            raise _classify(code, answer)
        code, answer = conn.data(raw)
        if code != 250:
            raise _classify(code, answer)
        self.last_used = time.monotonic()
        return answer.decode(errors="replace")[:255]

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
        self.conn = None


def _classify(code: int, detail: bytes | str) -> Exception:
    text = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
    if 500 <= code < 600:
        return PermanentFailure(code, text)
    return TemporaryFailure(f"{code} {text}")
