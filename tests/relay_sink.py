"""A real SMTP server (aiosmtpd) whose answers a test scripts: refuse the sender, refuse or defer chosen
recipients, answer slowly, offer SMTPUTF8 or not. It counts what it accepted, per recipient."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from contextlib import contextmanager
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from .conftest import _free_port


class ScriptedRelay:
    def __init__(
        self, *, mail_reply: str = "", rcpt_replies: dict[str, str] | None = None, data_delay: float = 0
    ):
        self.mail_reply = mail_reply  # e.g. "550 5.1.8 sender refused"; "" accepts
        self.rcpt_replies = rcpt_replies or {}
        self.data_delay = data_delay
        self.accepted: Counter[str] = Counter()  # recipient -> messages accepted
        self.send_ids: Counter[str] = Counter()
        self.mail_from_options: list[list[str]] = []
        self.lock = threading.Lock()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        if self.mail_reply:
            return self.mail_reply
        self.mail_from_options.append(list(mail_options))
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.accepted[rcpt] += 1
            self.send_ids[str(msg["X-Send-Id"])] += 1
        return "250 2.0.0 Ok: queued as X1"


class _Controller(Controller):
    def __init__(self, handler, *, smtputf8: bool, **kwargs):
        self.smtputf8 = smtputf8
        super().__init__(handler, **kwargs)

    def factory(self):
        return SMTP(self.handler, enable_SMTPUTF8=self.smtputf8, decode_data=False)


@contextmanager
def running(relay: ScriptedRelay, *, smtputf8: bool = False):
    """Serve the relay on a free port; yields the port."""
    port = _free_port()
    controller = _Controller(relay, smtputf8=smtputf8, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
