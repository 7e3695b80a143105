"""`portal contacts import`: bulk migrations through the same import service the UI uses."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

contacts_cli = AppGroup("contacts", help="Contact operations for operators (imports).")


@contacts_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--client", "client_slug", required=True, help="Client short name (slug).")
@click.option("--agency", "agency_slug", default=None, help="Agency short name, when client names repeat.")
@click.option("--list", "list_names", multiple=True, required=True, help="Target list name (repeatable).")
@click.option(
    "--map",
    "maps",
    multiple=True,
    help="COLUMN=TARGET: email, phone, phone_prefix, phone_number, "
    "field:<key> or new:<type>. COLUMN is a header name or a 1-based number.",
)
@click.option("--no-update", is_flag=True, help="Leave existing contacts as they are.")
@click.option("--status", type=click.Choice(["subscribed", "unsubscribed", "pending"]), default="subscribed")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def import_command(path, client_slug, agency_slug, list_names, maps, no_update, status, as_json):
    """Import PATH (CSV or ZIP) into a client's lists and print a summary."""
    from .extensions import db
    from .models import Agency, Client, Field, MailingList
    from .services import DomainError
    from .services import imports as svc
    from .tenancy import all_tenants, bind_tenant

    with all_tenants():
        query = select(Client).where(Client.slug == client_slug)
        if agency_slug:
            query = query.join(Agency, Agency.id == Client.agency_id).where(Agency.slug == agency_slug)
        found = list(db.session.scalars(query))
    if len(found) != 1:
        raise click.ClickException(
            f"client {client_slug!r}: {'not found' if not found else 'ambiguous, add --agency'}"
        )
    client = found[0]
    with bind_tenant(client.agency_id, client.id):
        try:
            lists = {lst.name: lst.id for lst in db.session.scalars(select(MailingList))}
            missing = [n for n in list_names if n not in lists]
            if missing:
                raise click.ClickException(f"unknown list(s): {', '.join(missing)}")
            with path.open("rb") as fh:
                imp = svc.create_import(actor=None, client=client, stream=fh, filename=path.name)
            mapping = svc.suggest_mapping(imp.columns, list(db.session.scalars(select(Field))))
            mapping.update(_explicit_mapping(imp.columns, maps))
            run = svc.start_import(
                actor=None,
                client=client,
                imp=imp,
                mapping=mapping,
                list_ids=[lists[n] for n in list_names],
                update_existing=not no_update,
                status=status,
                enqueue=False,
            )
            db.session.commit()
            svc.run_import(imp.id, run.id)  # in this process, not on a worker
            imp = svc.get_import(imp.id)
        except DomainError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from exc
        summary = {
            "import_id": imp.id,
            "status": imp.status,
            "rows": imp.rows_total,
            "created": imp.created_count,
            "updated": imp.updated_count,
            "unchanged": imp.unchanged_count,
            "invalid": imp.invalid_count,
            "duplicates": imp.duplicate_count,
            "suppressed": imp.suppressed_count,
            "message": imp.message,
            "errors": _first_errors(imp.errors_csv),
        }
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
    else:
        click.echo(f"{path.name}: {imp.message}")
        for err in summary["errors"]:
            click.echo(f"  line {err['line']}: {err['reason']} ({err['column']}={err['value']!r})")
    if imp.status != "done":
        sys.exit(1)


def _explicit_mapping(columns: list[str], maps: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    lowered = [c.lower() for c in columns]
    for item in maps:
        column, sep, target = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: use COLUMN=TARGET", param_hint="--map")
        if column.isdigit() and 1 <= int(column) <= len(columns):
            index = int(column) - 1
        elif column.lower() in lowered:
            index = lowered.index(column.lower())
        else:
            raise click.BadParameter(f"no column {column!r} in the file", param_hint="--map")
        for key in [k for k, v in out.items() if v == target]:
            del out[key]
        out[str(index)] = target
    return out


def _first_errors(errors_csv: bytes | None, limit: int = 20) -> list[dict]:
    import csv
    import io
    from itertools import islice

    if not errors_csv:
        return []
    reader = csv.DictReader(io.StringIO(errors_csv.decode("utf-8-sig")))
    return list(islice(reader, limit))
