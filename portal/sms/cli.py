"""`portal sms …`: count a text as the server does (the same function the pages and the ledger use)."""

from __future__ import annotations

import json

import click

from .segments import count


@click.group("sms")
def sms_cli() -> None:
    """SMS tools."""


@sms_cli.command("count")
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def count_command(text: str, as_json: bool) -> None:
    """Encoding, characters and segments of TEXT (GSM 03.38 / UCS-2, 160/153 and 70/67)."""
    result = count(text)
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        return
    click.echo(f"encoding: {result.encoding}")
    click.echo(f"characters: {result.characters}")
    click.echo(f"segments: {result.segments}")
    if result.non_gsm:
        click.echo("forced UCS-2 by: " + " ".join(result.non_gsm))
