"""The inbound SMTP server for the bounce domain: DSNs to the VERP return paths (`b+<token>@<bounce
domain>`), feedback-loop reports, and unsubscribe requests by email (`unsubscribe+<token>@…`).

It accepts recipients of `settings.bounce_domain` only (550 at RCPT for anything else: it is not a relay)
and hands each message with its envelope to `portal.inbound.process.process_message` inside an app
context, in a worker thread so the SMTP loop keeps answering. The app is created once per process.

Production: `portal inbound-smtp --host 0.0.0.0 --port 8026` behind port 25 (see the README: an MX record
for the bounce domain pointing at this host, and port 25 forwarded to the listening port). Development:
`portal dev` starts it on EMBEDDED_BOUNCE_PORT.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading

import click
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import OperationalError

MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # a report quotes at most the original message
log = logging.getLogger("portal.inbound")


class BounceHandler:
    def __init__(self, app: Flask):
        self.app = app
        self.domain = app.config["PORTAL_SETTINGS"].bounce_domain.lower()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        _, _, domain = address.rpartition("@")
        if domain.lower().rstrip(".") != self.domain:
            return "550 5.7.1 Relaying denied: this server only accepts mail for its bounce domain"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, self.process, content, list(envelope.rcpt_tos), envelope.mail_from or ""
        )

    def process(self, content: bytes, rcpt_tos: list[str], mail_from: str) -> str:
        from ..extensions import db
        from ..inbound.process import process_message

        with self.app.app_context():
            try:
                process_message(content, rcpt_tos, mail_from)
            except OperationalError:
                db.session.rollback()
                log.exception("inbound message deferred: database unavailable")
                return "451 4.3.0 Temporary failure, try again later"
            except Exception:
                # Never crash on what strangers send: keep the message for review and accept it.
                db.session.rollback()
                log.exception("inbound message could not be processed")
                try:
                    from ..inbound.process import _hold

                    _hold(content, rcpt_tos, mail_from, "unparsed", "processing error")
                except OSError:
                    return "451 4.3.0 Temporary failure, try again later"
            finally:
                db.session.remove()
        return "250 OK"


class BounceController(Controller):
    def factory(self):
        return SMTP(
            self.handler,
            data_size_limit=MAX_MESSAGE_BYTES,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=self.handler.domain,
            ident="portal inbound",
        )


def start_bounce_server(app: Flask, host: str = "127.0.0.1", port: int = 8026) -> Controller:
    """Start the server in a background thread; returns the started controller (`.stop()` ends it)."""
    controller = BounceController(BounceHandler(app), hostname=host, port=port)
    controller.start()
    return controller


def stop_bounce_server(controller: Controller | None) -> None:
    if controller is not None:
        controller.stop()


@click.command("inbound-smtp")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", default=8026, show_default=True, help="Port to listen on (forward port 25 here).")
@with_appcontext
def inbound_smtp_command(host: str, port: int) -> None:
    """Receive bounces, complaints and unsubscribe requests for the bounce domain."""
    app = current_app._get_current_object()
    controller = start_bounce_server(app, host, port)
    domain = app.config["PORTAL_SETTINGS"].bounce_domain
    click.echo(f"Inbound SMTP for {domain} listening on {host}:{port}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_bounce_server(controller)
