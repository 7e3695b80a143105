"""`portal mailup-emulator`: serve the MailUp API emulator in the foreground."""

from __future__ import annotations

import signal

import click

from .server import build_state, serve
from .state import AccountSpec


def _accounts(ctx, param, values):
    try:
        return [AccountSpec.parse(v) for v in values]
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _interrupt(signum, frame):
    raise KeyboardInterrupt


@click.command("mailup-emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8030, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--rate-limit",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="API calls per second per account before 429 (0 = off).",
)
@click.option(
    "--account",
    "accounts",
    multiple=True,
    callback=_accounts,
    metavar="USERNAME:PASSWORD:CLIENT_ID:CLIENT_SECRET",
    help="An account to create (repeatable); one demo account when none is given.",
)
@click.option(
    "--state", "state_file", type=click.Path(dir_okay=False), help="Keep the state in this JSON file."
)
def mailup_emulator_command(host, port, rate_limit, accounts, state_file) -> None:
    """Serve a local emulator of the MailUp REST API, statistics and frontend pages (development, tests)."""
    state = build_state(list(accounts), state_file, rate_limit=rate_limit)
    base = f"http://{host}:{port}"
    click.echo(
        f"MailUp emulator on {base}  (rate limit: {rate_limit or 'off'}; state: {state_file or 'memory'})"
    )
    click.echo(f"  token       {base}/Authorization/OAuth/Token")
    click.echo(f"  console     {base}/API/v1.1/Rest/ConsoleService.svc")
    click.echo(f"  statistics  {base}/API/v1.1/Rest/MailStatisticsService.svc")
    click.echo(f"  frontend    {base}/frontend/xmlSubscribe.aspx")
    click.echo(f"  admin       {base}/_emulator/")
    click.echo("Accounts (username / password / client id / client secret):")
    for a in state.accounts.values():
        click.echo(f"  {a.username} / {a.password} / {a.client_id} / {a.client_secret}")
    # SIGTERM (docker stop, a supervisor) ends the server like Ctrl-C, so the state file is written.
    signal.signal(signal.SIGTERM, _interrupt)
    serve(state, host, port)
