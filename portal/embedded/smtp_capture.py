"""A local SMTP server that captures every message as an ``.eml`` file instead of delivering it.

Used as the embedded default when ``SMTP_HOST`` is unset (``make dev``, tests). The back-office reads the
captured messages through :mod:`portal.embedded.outbox`.

Each file is ``<UTC %Y%m%dT%H%M%S%f>-<uuid4 hex>.eml``, written atomically (temporary name, then
``os.replace``), with the SMTP envelope kept in two prepended headers: ``X-Capture-Mail-From`` and
``X-Capture-Rcpt-To`` (comma-separated).

Run standalone: ``python -m portal.embedded.smtp_capture --dir instance/outbox --port 8025``.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

MAX_MESSAGE_BYTES = 30 * 1024 * 1024
_HEADER_UNSAFE = re.compile(r"[\r\n]")


def _header_value(value: str) -> str:
    # Envelope addresses come from the SMTP client; never let them inject a header line.
    return _HEADER_UNSAFE.sub("", value)


class CaptureHandler:
    """aiosmtpd handler writing each message to ``directory`` as an ``.eml`` file."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def write(self, mail_from: str, rcpt_tos: list[str], content: bytes) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        name = f"{stamp}-{uuid.uuid4().hex}"
        envelope = (
            f"X-Capture-Mail-From: {_header_value(mail_from or '')}\r\n"
            f"X-Capture-Rcpt-To: {_header_value(', '.join(rcpt_tos))}\r\n"
        ).encode()
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / f"{name}.eml"
        tmp = self.directory / f".{name}.tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(envelope)
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return final

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook name)
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        try:
            self.write(envelope.mail_from, list(envelope.rcpt_tos), content)
        except OSError:
            return "451 Requested action aborted: capture directory not writable"
        return "250 Message accepted for delivery"


class CaptureController(Controller):
    """Controller whose SMTP server accepts large messages and SMTPUTF8."""

    def factory(self):
        return SMTP(
            self.handler,
            data_size_limit=MAX_MESSAGE_BYTES,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname="capture.localhost",
            ident="portal SMTP capture",
        )


def start_capture(directory, host: str = "127.0.0.1", port: int = 8025) -> Controller:
    """Start the capture server in a background thread; returns the started controller."""
    controller = CaptureController(CaptureHandler(directory), hostname=host, port=port)
    controller.start()
    return controller


def stop_capture(controller: Controller | None) -> None:
    if controller is not None:
        controller.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local SMTP server capturing messages as .eml files")
    parser.add_argument("--dir", required=True, help="directory receiving the .eml files")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    args = parser.parse_args(argv)

    controller = start_capture(args.dir, host=args.host, port=args.port)
    print(
        f"SMTP capture listening on {args.host}:{args.port}, writing to {Path(args.dir).resolve()}",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_capture(controller)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
