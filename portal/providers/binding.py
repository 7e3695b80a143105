"""Binding a client to a provider-side connection (reference §18): its own list in a shared account
(`options["account_model"] == "shared"`, the default), or an existing list of an account of its own
(`"per_client"`, list `options["list_id"]`, 1 by default, as every account starts with list 1), or the
list id the operator names. The portal's lists and segments stay the portal's: the provider list only
holds the recipients the portal pushes for each campaign, in a group per campaign.

Field map: the portal's custom field number N (1..39) is the provider's personal field N, named as the
account names it (merge tags use that name). Three more personal fields, the account's highest ids that
no custom field uses, carry each recipient's own portal links (unsubscribe, preferences, view in
browser), so that the links in provider-sent mail lead to the agency's domain and the portal's own
pages record the unsubscribe at once. In a shared account personal fields are shared by every list
(§18): the portal owns the account's fields.

Binding happens lazily, at the first send (or pull) of a client through the connection: a client may
use a connection without being bound to it by name (its agency's default), the provider calls must
not run inside the agency's request, and an outage at binding time then only delays that send, which
retries, instead of refusing the agency's form.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select

from ..backends.mailup import NewList
from ..extensions import db
from ..models import Agency, Client, Connection, Field, ProviderBinding
from ..tenancy import all_tenants
from .connection import provider_client

LINKS = ("unsubscribe_url", "preferences_url", "view_url")
# The list setting the reference suggests, so webmail "Unsubscribe" buttons work (§5.2, §19).
LIST_UNSUBSCRIBE_HEADER = "<[listunsubscribe]>,<[mailto_uns]>"


def find_binding(client: Client, connection: Connection) -> ProviderBinding | None:
    return db.session.scalar(
        select(ProviderBinding).where(
            ProviderBinding.client_id == client.id, ProviderBinding.connection_id == connection.id
        )
    )


def ensure_binding(client: Client, connection: Connection, *, list_id: int | None = None) -> ProviderBinding:
    """The client's binding to the connection, made now when there is none (flushes, never commits)."""
    binding = find_binding(client, connection)
    if binding is not None:
        return binding
    api = provider_client(connection)
    opts = connection.options or {}
    if list_id is None and opts.get("account_model") == "per_client":
        list_id = int(opts.get("list_id") or 1)
    if list_id is not None:
        found = api.get_list(list_id)
    else:
        found = _own_list(api, client)
    account_fields = {f.id: f.description for f in api.dynamic_fields()}
    binding = ProviderBinding(
        agency_id=client.agency_id,
        client_id=client.id,
        connection_id=connection.id,
        list_id=found.id,
        list_guid=found.guid,
        field_map=field_map(client, account_fields),
        webhook_token=secrets.token_urlsafe(32),
    )
    db.session.add(binding)
    db.session.flush()
    return binding


def own_list_description(client_id: int) -> str:
    """The description of the list the portal makes for a client in a shared account (how it is told
    apart from the account's own lists)."""
    return f"client {client_id}"


def _own_list(api, client: Client):
    """The client's list in a shared account, found again by its unique name when an earlier attempt
    created it but did not live to record it (a list create is not repeatable)."""
    name = f"{client.name[:36]} #{client.id}"
    existing = next((m for m in api.lists() if m.name == name), None)
    if existing is not None:
        return existing
    with all_tenants():
        agency = db.session.get(Agency, client.agency_id)
    contact = agency.support_email or f"no-reply@{agency.canonical_domain.host}"
    return api.create_list(
        NewList(
            name=name,
            owner_email=contact,
            reply_to=contact,
            sender_name=client.name[:50],
            company_name=client.name[:50],
            contact_name=agency.name[:50],
            address="-",
            city="-",
            country_code=client.default_region or "IT",
            permission_reminder="You receive this email because you subscribed to our mailing list.",
            website_url=f"https://{agency.canonical_domain.host}",
            description=own_list_description(client.id),
            settings={"HeaderListUnsubscriber": LIST_UNSUBSCRIBE_HEADER},
        )
    )


def field_map(client: Client, account_fields: dict[int, str]) -> dict:
    """Custom field number → the personal field of that id; three free ids (highest first) for links."""
    numbers = set(db.session.scalars(select(Field.number).where(Field.client_id == client.id)))
    fields = {str(n): {"id": n, "name": account_fields[n]} for n in sorted(numbers) if n in account_fields}
    free = [i for i in sorted(account_fields, reverse=True) if i not in numbers]
    links = {key: {"id": i, "name": account_fields[i]} for key, i in zip(LINKS, free, strict=False)}
    return {"account": {str(k): v for k, v in account_fields.items()}, "fields": fields, "links": links}


def refresh_fields(binding: ProviderBinding, client: Client) -> dict:
    """Fields added to the client since binding join the map (the account's names were stored)."""
    account = {int(k): v for k, v in (binding.field_map or {}).get("account", {}).items()}
    links = (binding.field_map or {}).get("links", {})
    taken = {v["id"] for v in links.values()}
    current = field_map(client, {k: v for k, v in account.items() if k not in taken})
    mapped = {**binding.field_map, "fields": current["fields"]}
    if mapped != binding.field_map:
        binding.field_map = mapped
    return mapped


def bindings_of(connection: Connection) -> list[dict]:
    """For the back-office (the only place that may name the provider): every client bound to the
    connection, its list, the field map, the pull state and the callback URL to configure."""
    with all_tenants():
        agency = db.session.get(Agency, connection.agency_id)
        rows = db.session.execute(
            select(ProviderBinding, Client.name)
            .join(Client, Client.id == ProviderBinding.client_id)
            .where(ProviderBinding.connection_id == connection.id)
            .order_by(Client.name)
        ).all()
    host = agency.canonical_domain.host if agency is not None and agency.canonical_domain else ""
    out = []
    for binding, client_name in rows:
        fmap = binding.field_map or {}
        out.append(
            {
                "client": client_name,
                "list_id": binding.list_id,
                "list_guid": binding.list_guid,
                "fields": ", ".join(
                    f"{n} → {v['id']} ({v['name']})" for n, v in sorted((fmap.get("fields") or {}).items())
                ),
                "links": ", ".join(
                    f"{k} → {v['id']} ({v['name']})" for k, v in (fmap.get("links") or {}).items()
                ),
                "last_pull_at": binding.last_pull_at,
                "last_error": binding.last_error,
                "callback_url": f"https://{host}/hooks/e/{binding.webhook_token}" if host else "",
            }
        )
    return out
