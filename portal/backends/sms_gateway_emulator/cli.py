"""`portal sms-gateway-emulator`: serve the SMS gateway emulator in the foreground."""

from __future__ import annotations

import click
from werkzeug.serving import run_simple

from .app import create_app
from .state import GatewayState


@click.command("sms-gateway-emulator")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8040, show_default=True, type=int)
@click.option("--api-key", default="demo-sms-key", show_default=True, help="The bearer token it expects.")
@click.option("--inbound-url", default="", help="Where inbound replies are posted.")
@click.option(
    "--auto-reports/--no-auto-reports",
    default=True,
    show_default=True,
    help="Post delivery reports right after accepting a message (else on POST /_emulator/reports).",
)
def sms_gateway_emulator_command(host, port, api_key, inbound_url, auto_reports) -> None:
    """Serve a local HTTP SMS gateway that records messages and posts delivery reports and replies."""
    state = GatewayState(api_key=api_key, inbound_url=inbound_url, auto_reports=auto_reports)
    click.echo(f"SMS gateway emulator on http://{host}:{port}  (send: /send, admin: /_emulator/)")
    click.echo(f"  bearer token: {api_key}")
    run_simple(host, port, create_app(state), threaded=True)
