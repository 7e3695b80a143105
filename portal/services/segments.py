"""Segments: rules on fields, list membership and addresses, validated strictly and compiled to one SQL
WHERE over Contact (every user value a bound parameter; portable between SQLite and PostgreSQL).

Rules: {"match": "all"|"any", "conditions": [...]} with conditions
  {"type": "field", "key": k, "operator": op, "value": v}
  {"type": "list", "list_id": n, "status": "subscribed"}      in the list with that status
  {"type": "not_in_list", "list_id": n}                       no subscription at all in the list
  {"type": "email_domain", "value": "example.com"}
  {"type": "has_email"} / {"type": "has_phone"}               optional "present": false for "has none"
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, func, not_, or_, select, true

from ..extensions import db
from ..imports.values import FieldValueError, convert
from ..models import Client, Contact, Field, MailingList, Segment, Subscription, User
from ..models.audience import SUB_STATUSES, SUB_SUBSCRIBED
from . import DomainError, NotFound
from .audit import record
from .contacts import field_equals, field_value, spec_of
from .i18n_safe import _

MAX_CONDITIONS = 30
SAMPLE_SIZE = 10
CONDITION_TYPES = ("field", "list", "not_in_list", "email_domain", "has_email", "has_phone")
TEXT_OPERATORS = ("equals", "not_equals", "contains", "starts_with", "is_empty", "is_not_empty")
OPERATORS_BY_KIND = {
    "text": TEXT_OPERATORS,
    "choice": ("equals", "not_equals", "is_empty", "is_not_empty"),
    "boolean": ("equals", "not_equals", "is_empty", "is_not_empty"),
    "number": ("equals", "not_equals", "greater_than", "less_than", "is_empty", "is_not_empty"),
    "date": ("equals", "not_equals", "before", "after", "is_empty", "is_not_empty"),
}
NO_VALUE = ("is_empty", "is_not_empty")


# --- validation --------------------------------------------------------------------------------------


def validate_rules(client: Client, rules) -> dict:
    """The normalised rules, or DomainError. Field keys and lists must be this client's."""
    if not isinstance(rules, dict):
        raise DomainError(_("The segment rules are not valid."))
    match = rules.get("match", "all")
    if match not in ("all", "any"):
        raise DomainError(_("Choose whether all or any of the conditions must match."))
    conditions = rules.get("conditions", [])
    if not isinstance(conditions, list) or len(conditions) > MAX_CONDITIONS:
        raise DomainError(_("A segment can have at most %(n)s conditions.", n=MAX_CONDITIONS))
    fields = {f.key: f for f in db.session.scalars(select(Field).where(Field.client_id == client.id))}
    return {"match": match, "conditions": [_condition(client, c, fields) for c in conditions]}


def _condition(client: Client, c, fields: dict[str, Field]) -> dict:
    if not isinstance(c, dict) or c.get("type") not in CONDITION_TYPES:
        raise DomainError(_("Unknown condition type."))
    kind = c["type"]
    if kind == "field":
        return _field_condition(c, fields)
    if kind in ("list", "not_in_list"):
        list_id = _list_id(client, c.get("list_id"))
        if kind == "not_in_list":
            return {"type": kind, "list_id": list_id}
        status = c.get("status") or SUB_SUBSCRIBED
        if status not in SUB_STATUSES:
            raise DomainError(_("Unknown subscription status."))
        return {"type": kind, "list_id": list_id, "status": status}
    if kind == "email_domain":
        domain = str(c.get("value") or "").strip().lower().lstrip("@")
        if not domain or "@" in domain or len(domain) > 253:
            raise DomainError(_("Enter an email domain, like example.com."))
        return {"type": kind, "value": domain}
    return {"type": kind, "present": c.get("present", True) not in (False, "false", "0", "no")}


def _list_id(client: Client, raw) -> int:
    try:
        list_id = int(raw)
    except (TypeError, ValueError):
        raise DomainError(_("Choose a list.")) from None
    found = db.session.scalar(
        select(MailingList.id).where(MailingList.id == list_id, MailingList.client_id == client.id)
    )
    if found is None:
        raise DomainError(_("Choose one of your lists."))
    return list_id


def _field_condition(c: dict, fields: dict[str, Field]) -> dict:
    f = fields.get(c.get("key"))
    if f is None:
        raise DomainError(_("Choose one of your fields."))
    operator = c.get("operator")
    if operator not in OPERATORS_BY_KIND.get(f.kind, ()):
        raise DomainError(_("%(field)s: choose a comparison that suits this field.", field=f.label))
    if operator in NO_VALUE:
        return {"type": "field", "key": f.key, "operator": operator}
    raw = str(c.get("value") if c.get("value") is not None else "").strip()
    if not raw:
        raise DomainError(_("%(field)s: enter a value to compare with.", field=f.label))
    if operator in ("contains", "starts_with"):
        value = raw[:1000]
    else:
        try:
            value = convert(spec_of(f), raw)
        except FieldValueError as exc:
            raise DomainError(f"{f.label}: {exc}") from exc
    return {"type": "field", "key": f.key, "operator": operator, "value": value}


# --- compilation -------------------------------------------------------------------------------------


def segment_condition(client: Client, rules) -> ColumnElement:
    """One WHERE clause over Contact for validated rules (validates again: rules may be stored)."""
    checked = validate_rules(client, rules)
    fields = {f.key: f for f in db.session.scalars(select(Field).where(Field.client_id == client.id))}
    parts = [_compile(client, c, fields) for c in checked["conditions"]]
    if not parts:
        matched = true()
    else:
        matched = and_(*parts) if checked["match"] == "all" else or_(*parts)
    return and_(Contact.client_id == client.id, matched)


def segment_query(client: Client, rules) -> Select:
    """SELECT contact.id of the contacts the rules match."""
    return select(Contact.id).where(segment_condition(client, rules))


def _compile(client: Client, c: dict, fields: dict[str, Field]) -> ColumnElement:
    kind = c["type"]
    if kind == "field":
        return _compile_field(fields[c["key"]], c["operator"], c.get("value"))
    if kind == "list":
        members = select(Subscription.contact_id).where(
            Subscription.client_id == client.id,
            Subscription.list_id == c["list_id"],
            Subscription.status == c["status"],
        )
        return Contact.id.in_(members)
    if kind == "not_in_list":
        members = select(Subscription.contact_id).where(
            Subscription.client_id == client.id, Subscription.list_id == c["list_id"]
        )
        return Contact.id.not_in(members)
    if kind == "email_domain":
        return Contact.email.endswith("@" + c["value"], autoescape=True)
    column = Contact.email if kind == "has_email" else Contact.phone
    return column.isnot(None) if c["present"] else column.is_(None)


def _compile_field(f: Field, operator: str, value) -> ColumnElement:
    raw = field_value(f.key, "text")
    typed = field_value(f.key, f.kind)
    empty = or_(raw.is_(None), raw == "")
    if operator == "is_empty":
        return empty
    if operator == "is_not_empty":
        return not_(empty)
    if operator == "equals":
        return field_equals(f, value)
    if operator == "not_equals":
        return or_(raw.is_(None), not_(field_equals(f, value)))
    if operator == "contains":
        return raw.icontains(value, autoescape=True)
    if operator == "starts_with":
        return raw.istartswith(value, autoescape=True)
    if operator in ("greater_than", "after"):
        return typed > value
    if operator in ("less_than", "before"):
        return typed < value
    raise DomainError(_("Unknown comparison."))


# --- counting and preview ----------------------------------------------------------------------------


def count_matching(client: Client, rules) -> int:
    return int(db.session.scalar(select(func.count(Contact.id)).where(segment_condition(client, rules))) or 0)


def sample(client: Client, rules, size: int = SAMPLE_SIZE) -> list[Contact]:
    query = select(Contact).where(segment_condition(client, rules)).order_by(Contact.id.desc()).limit(size)
    return list(db.session.scalars(query))


def preview(client: Client, rules) -> dict:
    """The live preview of the editor: the count and the newest matching contacts."""
    return {
        "count": count_matching(client, rules),
        "sample": [
            {"id": c.id, "email": c.email or "", "phone": c.phone or ""} for c in sample(client, rules)
        ],
    }


# --- saved segments ----------------------------------------------------------------------------------


def list_segments() -> list[Segment]:
    return list(db.session.scalars(select(Segment).order_by(Segment.name)))


def get_segment(segment_id: int) -> Segment:
    seg = db.session.scalar(select(Segment).where(Segment.id == segment_id))
    if seg is None:
        raise NotFound("segment")
    return seg


def save_segment(
    *, actor: User | None, client: Client, name: str, rules, segment: Segment | None = None
) -> Segment:
    name = name.strip()
    if not name:
        raise DomainError(_("A segment needs a name."))
    checked = validate_rules(client, rules)
    clash = select(Segment.id).where(Segment.client_id == client.id, Segment.name == name)
    if segment is not None:
        clash = clash.where(Segment.id != segment.id)
    if db.session.scalar(clash) is not None:
        raise DomainError(_("A segment named %(name)s exists already.", name=name))
    created = segment is None
    if segment is None:
        segment = Segment(agency_id=client.agency_id, client_id=client.id)
        db.session.add(segment)
    segment.name, segment.rules = name, checked
    db.session.flush()
    record(
        "segment.created" if created else "segment.updated",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=name,
    )
    return segment


def delete_segment(*, actor: User | None, client: Client, segment: Segment) -> None:
    record(
        "segment.deleted", actor=actor, agency_id=client.agency_id, client_id=client.id, target=segment.name
    )
    db.session.delete(segment)
    db.session.flush()
