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
        self,
        *,
        mail_reply: str = "",
        rcpt_replies: dict[str, str] | None = None,
        data_command_replies: dict[str, str] | None = None,
        data_delay: float = 0,
        on_rcpt=None,
        on_data=None,
    ):
        self.mail_reply = mail_reply  # e.g. "550 5.1.8 sender refused"; "" accepts
        self.rcpt_replies = rcpt_replies or {}
        self.data_command_replies = data_command_replies or {}  # recipient -> answer to the DATA command
        self.data_delay = data_delay
        self.on_rcpt, self.on_data = on_rcpt, on_data  # called with the recipient, in the relay's thread
        self.rcpt_seen: Counter[str] = Counter()  # RCPT commands received, accepted or not
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
        self.rcpt_seen[address] += 1
        if self.on_rcpt is not None:
            self.on_rcpt(address)
        reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.on_data is not None:
            for rcpt in envelope.rcpt_tos:
                self.on_data(rcpt)
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
        return _ScriptedSMTP(self.handler, enable_SMTPUTF8=self.smtputf8, decode_data=False)


class _ScriptedSMTP(SMTP):
    """Answers the DATA command itself (before any content) as the relay's script says."""

    async def smtp_DATA(self, arg):  # noqa: N802
        replies = getattr(self.event_handler, "data_command_replies", {})
        rcpts = self.envelope.rcpt_tos if self.envelope else []
        reply = next((replies[r] for r in rcpts if r in replies), None)
        if reply:
            await self.push(reply)
            return
        await super().smtp_DATA(arg)


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
