"""A real SMTP sink for crash tests: counts messages by X-Send-Id and can hold a message whose content it
has received, before answering it, so a worker can be killed at a chosen moment: that message is not
accepted (it is refused with a 451 once released), and every message before it was answered.

Held there, the worker's chain (sending/batches.py) is at its narrowest: the held message's content left
only once the message before it was marked sent, so no accepted message is unmarked when the kill hits."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


class GatedSink:
    def __init__(self, hold_after: int | None = None):
        self.counts: Counter[str] = Counter()
        self.recipients: Counter[str] = Counter()
        self.hold_after = hold_after
        self.holding = threading.Event()  # set while a message's content is held unanswered
        self.release = threading.Event()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            delivered = sum(self.counts.values())
        if self.hold_after is not None and delivered >= self.hold_after and not self.release.is_set():
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 try again later"
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.counts[str(msg["X-Send-Id"])] += 1
            for rcpt in envelope.rcpt_tos:
                self.recipients[rcpt] += 1
        return "250 2.0.0 Ok: queued"


def start_sink(sink: GatedSink, port: int) -> Controller:
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    return controller
