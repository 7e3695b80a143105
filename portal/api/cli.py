"""`portal api-keys create --client SLUG [--agency SLUG] --name N --scopes read,write,send` for operators
and scripts: the key is printed once (only its hash is kept)."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from ..extensions import db
from ..models import Agency, Client
from ..services import DomainError
from ..tenancy import all_tenants, bind_tenant
from .keys import DEFAULT_RATE_LIMIT, create_key


@click.group("api-keys")
def api_keys_cli() -> None:
    """REST API keys of client accounts."""


@api_keys_cli.command("create")
@click.option("--client", "client_slug", required=True, help="The client account's slug.")
@click.option(
    "--agency",
    "agency_slug",
    default=None,
    help="The agency's slug (needed when several agencies have the client slug).",
)
@click.option("--name", required=True, help="What the key is for, e.g. 'CRM sync'.")
@click.option("--scopes", default="read", show_default=True, help="Comma-separated: read, write, send.")
@click.option("--expires", default=None, help="Expiry date, ISO 8601 (e.g. 2027-06-30).")
@click.option(
    "--rate-limit", default=DEFAULT_RATE_LIMIT, show_default=True, type=int, help="Requests a minute."
)
@with_appcontext
def create_command(client_slug, agency_slug, name, scopes, expires, rate_limit) -> None:
    with all_tenants():
        query = select(Client).where(Client.slug == client_slug)
        if agency_slug:
            query = query.join(Agency, Agency.id == Client.agency_id).where(Agency.slug == agency_slug)
        found = list(db.session.scalars(query))
    if not found:
        raise click.ClickException(
            f"no client with slug {client_slug!r}" + (f" in agency {agency_slug!r}" if agency_slug else "")
        )
    if len(found) > 1:
        raise click.ClickException(f"several agencies have a client {client_slug!r}: give --agency")
    client = found[0]
    expires_at = None
    if expires:
        try:
            expires_at = datetime.fromisoformat(expires)
        except ValueError as exc:
            raise click.ClickException(f"--expires: not an ISO 8601 date: {expires!r}") from exc
        expires_at = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
    with bind_tenant(client.agency_id, client.id):
        try:
            new = create_key(
                actor=None,
                client=client,
                name=name,
                scopes=scopes,
                expires_at=expires_at,
                rate_limit_per_minute=rate_limit,
            )
        except DomainError as exc:
            raise click.ClickException(str(exc)) from exc
        db.session.commit()
    click.echo(new.secret)
    click.echo(f"(shown once; key pk_{new.key.prefix}, scopes {','.join(new.key.scopes)})", err=True)
