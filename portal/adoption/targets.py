"""What an adoption creates in the portal before any contact arrives: fields for the personal fields in use
(numbered as the provider numbers them, so the provider binding's field map — portal field N is personal
field N — holds for them without a translation of its own), a list per adopted list (or the existing one
the user mapped it onto), and for the groups either a list each or one "Groups" field with a segment each.

Adopting again finds what the last adoption of the same account created (its result's maps) and reuses
it, so a second run creates nothing new."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..imports.values import FieldSpec
from ..models import Adoption, Client, Field, MailingList, Segment
from ..models.adoption import ADOPTION_DONE
from ..models.audience import MAX_FIELDS
from ..services import segments as segment_service
from ..services.audit import record
from ..services.fields import RESERVED_KEYS, field_key
from ..services.i18n_safe import _
from ..services.lists import ListValues, create_list
from .types import infer_kind

GROUPS_KEY = "groups"


def previous_maps(adoption: Adoption) -> dict:
    """The maps of the last finished adoption of this account for this client (lists, groups, fields)."""
    earlier = db.session.scalar(
        select(Adoption)
        .where(
            Adoption.client_id == adoption.client_id,
            Adoption.connection_id == adoption.connection_id,
            Adoption.state == ADOPTION_DONE,
            Adoption.id != adoption.id,
        )
        .order_by(Adoption.id.desc())
        .limit(1)
    )
    return (earlier.result or {}).get("maps", {}) if earlier is not None else {}


def ensure_fields(adoption: Adoption, client: Client, report) -> dict[str, FieldSpec]:
    """Personal field id → the portal field its values go to. Types come from every value read."""
    seen = (adoption.stats or {}).get("fields") or {}
    by_number = {f.number: f for f in db.session.scalars(select(Field).where(Field.client_id == client.id))}
    keys = {f.key for f in by_number.values()}
    out: dict[str, FieldSpec] = {}
    for entry in adoption.preview.get("fields", []):
        fid, name = int(entry["id"]), entry["name"]
        counts = seen.get(str(fid))
        if not counts or not counts[0]:
            continue
        key = field_key(name)
        existing = by_number.get(fid)
        if existing is not None and existing.key == key:
            report.add("field", existing.label, "existing", counts[0])
        elif existing is not None or key in keys or key in RESERVED_KEYS:
            why = f"number {fid} is the portal field '{existing.label}'" if existing else f"'{key}' is taken"
            report.add("field", name, "skipped", counts[0], why)
            continue
        else:
            existing = Field(
                agency_id=client.agency_id,
                client_id=client.id,
                number=fid,
                key=key,
                label=name,
                kind=infer_kind(counts),
                choices=[],
            )
            db.session.add(existing)
            db.session.flush()
            keys.add(key)
            record(
                "field.created",
                actor=None,
                agency_id=client.agency_id,
                client_id=client.id,
                target=key,
                kind=existing.kind,
            )
            report.add("field", name, "created", counts[0], existing.kind)
        out[str(fid)] = FieldSpec(existing.key, existing.label, existing.kind, tuple(existing.choices or ()))
    return out


def ensure_lists(adoption: Adoption, client: Client, has_sms: set[int], report) -> dict[int, int]:
    """Remote list id → portal list id: the list the user chose, the one the last adoption made, or new."""
    earlier = previous_maps(adoption).get("lists", {})
    targets = {int(k): v for k, v in (adoption.options.get("targets") or {}).items() if v}
    out = {}
    for item in adoption.preview.get("lists", []):
        remote = int(item["id"])
        wanted = targets.get(remote) or earlier.get(str(remote))
        lst = (
            db.session.scalar(
                select(MailingList).where(MailingList.id == wanted, MailingList.client_id == client.id)
            )
            if wanted
            else None
        )
        if lst is None:
            lst = create_list(
                actor=None,
                client=client,
                values=ListValues(
                    name=_free_name(client, item["name"]),
                    description=_("Imported from your previous provider account"),
                    double_opt_in=True,
                    email_enabled=True,
                    sms_enabled=remote in has_sms,
                ),
            )
            report.add("list", lst.name, "created", 1)
        else:
            if remote in has_sms and not lst.sms_enabled:
                lst.sms_enabled = True
            report.add("list", lst.name, "existing", 1)
        out[remote] = lst.id
    return out


def ensure_group_lists(adoption: Adoption, client: Client, report) -> dict[int, int]:
    """Groups as lists: group id → its portal list (email and SMS, like the list it belongs to)."""
    earlier = previous_maps(adoption).get("groups", {})
    out = {}
    for item in adoption.preview.get("lists", []):
        for group in item.get("groups", []):
            wanted = earlier.get(str(group["id"]))
            lst = (
                db.session.scalar(
                    select(MailingList).where(MailingList.id == wanted, MailingList.client_id == client.id)
                )
                if wanted
                else None
            )
            if lst is None:
                lst = create_list(
                    actor=None,
                    client=client,
                    values=ListValues(
                        name=_free_name(client, f"{item['name']} – {group['name']}"),
                        description=_("Imported from your previous provider account"),
                        email_enabled=True,
                        sms_enabled=True,
                    ),
                )
                report.add("group", lst.name, "created as a list", group["members"])
            else:
                report.add("group", lst.name, "existing list", group["members"])
            out[int(group["id"])] = lst.id
    return out


def ensure_group_segments(adoption: Adoption, client: Client, report) -> tuple[FieldSpec | None, dict]:
    """Groups as segments: one text field holding each contact's groups as `|VIP|Milano|`, and a segment
    per group matching its name in that field. Returns (the field, group id → its value marker)."""
    groups = [(item, g) for item in adoption.preview.get("lists", []) for g in item.get("groups", [])]
    if not groups:
        return None, {}
    field = db.session.scalar(select(Field).where(Field.client_id == client.id, Field.key == GROUPS_KEY))
    if field is None:
        used = set(db.session.scalars(select(Field.number).where(Field.client_id == client.id)))
        taken = {int(f["id"]) for f in adoption.preview.get("fields", []) if f.get("used")}
        free = [n for n in range(MAX_FIELDS, 0, -1) if n not in used and n not in taken]
        if not free:
            report.add("group", "", "skipped", len(groups), "no free custom field for the groups")
            return None, {}
        field = Field(
            agency_id=client.agency_id,
            client_id=client.id,
            number=free[0],
            key=GROUPS_KEY,
            label=_("Groups"),
            kind="text",
            choices=[],
        )
        db.session.add(field)
        db.session.flush()
        report.add("field", field.label, "created", len(groups), "text")
    markers = {}
    existing = set(db.session.scalars(select(Segment.name).where(Segment.client_id == client.id)))
    for item, group in groups:
        marker = f"|{group['name']}|"
        markers[int(group["id"])] = group["name"]
        name = f"{item['name']} – {group['name']}"
        if name in existing:
            report.add("group", name, "existing segment", group["members"])
            continue
        rules = {
            "match": "all",
            "conditions": [{"type": "field", "key": GROUPS_KEY, "operator": "contains", "value": marker}],
        }
        segment_service.save_segment(actor=None, client=client, name=name, rules=rules)
        report.add("group", name, "created as a segment", group["members"])
    return FieldSpec(field.key, field.label, "text"), markers


def _free_name(client: Client, name: str) -> str:
    """The list name, or with a number after it when the client has a list of that name already."""
    names = set(db.session.scalars(select(MailingList.name).where(MailingList.client_id == client.id)))
    base = name.strip()[:110] or "List"
    candidate, n = base, 2
    while candidate in names:
        candidate, n = f"{base} ({n})", n + 1
    return candidate
