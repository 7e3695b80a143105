"""The preview of an adoption: what the account holds and what the portal will create from it, read with
a handful of calls (one page of one item per collection gives its `TotalElementsCount`, §4.1) and written
nowhere. The user confirms it; the adoption then stores it and reads exactly those lists and groups.

Personal fields are typed from a sample (the first page of each list's subscribed recipients): a field
whose every sampled value is a date becomes a date field, numbers (without leading zeros, so postal codes
stay text) a number field, yes/no words a yes/no field, anything else text. Fields no sampled recipient
uses are listed but not created; a field first seen later in the reading is created then (as text,
unless its values say otherwise) and the report says so.
"""

from __future__ import annotations

import math

from sqlalchemy import select

from ..backends.mailup.api import CONSOLE
from ..extensions import db
from ..models import Client, Connection, Field, MailingList, ProviderBinding
from ..providers.binding import own_list_description
from ..providers.connection import DEFAULT_RATE, provider_client
from ..services.fields import RESERVED_KEYS, field_key
from ..tenancy import all_tenants
from .remote import STATUSES, Step, steps_for
from .types import infer_kind, tally_values

SAMPLE_PAGE = 200
DEFAULT_PAGE_SIZE = 1000  # the emulator's cap; the reading follows whatever size the provider answers
GROUPS_AS = ("segments", "lists")


def total_of(api, path: str) -> int:
    page = next(iter(api.pages(CONSOLE, path, page_size=1)), None)
    if page is None:
        return 0
    return page.total if page.total is not None else page.end


def build_preview(
    api,
    client: Client,
    *,
    list_ids: list[int] | None = None,
    targets: dict | None = None,
    groups_as: str = "segments",
    page_size: int = DEFAULT_PAGE_SIZE,
    rate_per_s: float = 5.0,
    sending_lists: dict[int, str] | None = None,
) -> dict:
    """The preview as a JSON-ready dict. `targets`: remote list id → an existing portal list id to map
    it onto (else a new list of the same name); `groups_as`: "segments" or "lists"; `sending_lists`:
    the lists the portal made for its own sends (:func:`sending_lists_of`), left out."""
    if groups_as not in GROUPS_AS:
        raise ValueError("groups_as is segments or lists")
    targets = {int(k): int(v) for k, v in (targets or {}).items() if v}
    portal_lists = dict(
        db.session.execute(
            select(MailingList.id, MailingList.name).where(MailingList.client_id == client.id)
        ).all()
    )
    lists, sample = [], {}
    for remote in api.lists():
        if list_ids and remote.id not in list_ids:
            continue
        if sending_lists and sending_lists.get(remote.id) == remote.description:
            continue  # a list the portal made for its own sends
        item = {"id": remote.id, "name": remote.name, "email": {}, "sms": {}, "groups": []}
        for status in STATUSES:
            item["email"][status.lower()] = total_of(api, Step("email", remote.id, status).path)
            item["sms"][status.lower()] = total_of(api, Step("sms", remote.id, status).path)
        for group in api.groups(remote.id):
            members = total_of(api, Step("group", remote.id, group_id=group.id).path)
            item["groups"].append({"id": group.id, "name": group.name, "members": members})
        target = targets.get(remote.id)
        item["target"] = target if target in portal_lists else None
        item["target_name"] = portal_lists.get(item["target"], remote.name)
        first = next(
            iter(api.pages(CONSOLE, Step("email", remote.id, "Subscribed").path, page_size=SAMPLE_PAGE)), None
        )
        for raw in first.items if first else []:
            for f in raw.get("Fields") or []:
                tally_values(sample, str(f.get("Id")), str(f.get("Value") or ""))
        lists.append(item)
    fields = _fields(client, {f.id: f.description for f in api.dynamic_fields()}, sample)
    summary = _summary(lists, fields, groups_as, page_size, rate_per_s)
    summary["preview_calls"] = api.stats.calls - api.stats.token_calls
    return summary


def _fields(client: Client, account: dict[int, str], sample: dict) -> list[dict]:
    """Each personal field: its name, how many sampled recipients use it, the type inferred, and what the
    portal does with it (a new field numbered as the provider numbers it, an existing one, or nothing)."""
    existing = {f.number: f for f in db.session.scalars(select(Field).where(Field.client_id == client.id))}
    keys = {f.key: f for f in existing.values()}
    out = []
    for fid, name in sorted(account.items()):
        seen = sample.get(str(fid))
        key = field_key(name)
        entry = {
            "id": fid,
            "name": name,
            "used": seen[0] if seen else 0,
            "kind": infer_kind(seen),
            "key": key,
        }
        same = existing.get(fid)
        if same is not None and same.key == key:
            entry["action"], entry["kind"] = "existing", same.kind
        elif not entry["used"]:
            entry["action"] = "unused"
        elif same is not None:  # the page says why, in the reader's language
            entry["action"], entry["reason"], entry["portal_field"] = "skip", "number", same.label
        elif key in keys or key in RESERVED_KEYS:
            entry["action"], entry["reason"] = "skip", "name"
        else:
            entry["action"] = "create"
        out.append(entry)
    return out


def _summary(lists: list[dict], fields: list[dict], groups_as: str, page_size: int, rate: float) -> dict:
    records = sum(sum(item["email"].values()) + sum(item["sms"].values()) for item in lists)
    calls = 0
    for item in lists:
        email = sum(item["email"].values())
        calls += sum(math.ceil(n / page_size) or 1 for n in item["email"].values())
        calls += math.ceil(email / page_size) or 1  # EmailOptins
        calls += sum(math.ceil(n / page_size) or 1 for n in item["sms"].values())
        calls += sum(math.ceil(g["members"] / page_size) or 1 for g in item["groups"])
    groups = sum(len(item["groups"]) for item in lists)
    creates = {
        "lists": sum(1 for item in lists if item["target"] is None) + (groups if groups_as == "lists" else 0),
        "segments": groups if groups_as == "segments" else 0,
        "fields": sum(1 for f in fields if f["action"] == "create")
        + (1 if groups and groups_as == "segments" else 0),
    }
    preview = {
        "lists": lists,
        "fields": fields,
        "groups_as": groups_as,
        "page_size": page_size,
        "records": records,
        "calls": calls,
        "seconds": round(calls / rate) if rate else None,
        "creates": creates,
    }
    preview["steps"] = len(steps_for(preview))
    return preview


def sending_lists_of(connection: Connection) -> dict[int, str]:
    """List id → description of the lists the portal made in a shared account for its own clients'
    sends (one per bound client, holding only the recipients pushed for each campaign, a group per
    campaign): nothing of the previous provider's to adopt. A binding to a list the account already had
    (its own account's list, an adopted list) keeps that list adoptable: its description is not the
    portal's."""
    with all_tenants():
        rows = db.session.execute(
            select(ProviderBinding.list_id, ProviderBinding.client_id).where(
                ProviderBinding.connection_id == connection.id
            )
        ).all()
    return {list_id: own_list_description(client_id) for list_id, client_id in rows}


def preview_for(connection: Connection, client: Client, **choices) -> dict:
    rate = float((connection.options or {}).get("rate_per_second") or DEFAULT_RATE)
    return build_preview(
        provider_client(connection),
        client,
        rate_per_s=rate,
        sending_lists=sending_lists_of(connection),
        **choices,
    )
