"""Custom contact fields of a client (at most 39, numbered 1..39 for good)."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import func, select

from ..extensions import db
from ..models import Client, Field, User
from ..models.audience import FIELD_KINDS, MAX_FIELDS
from . import DomainError, NotFound
from .audit import record
from .i18n_safe import _

RESERVED_KEYS = {"email", "phone", "id", "created_at", "updated_at", "unsubscribe_url"}


def field_key(label: str) -> str:
    """A merge-tag name from a label: "Età" → "eta", "First name" → "first_name"."""
    ascii_label = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    key = re.sub(r"[^a-z0-9]+", "_", ascii_label.strip().lower()).strip("_")[:40]
    if not key or key[0].isdigit():
        key = f"field_{key}".strip("_")
    return key


def list_fields() -> list[Field]:
    return list(db.session.scalars(select(Field).order_by(Field.number)))


def get_field(field_id: int) -> Field:
    f = db.session.scalar(select(Field).where(Field.id == field_id))
    if f is None:
        raise NotFound("field")
    return f


def create_field(
    *, actor: User | None, client: Client, label: str, kind: str = "text", choices: list[str] | None = None
) -> Field:
    label = label.strip()
    if not label:
        raise DomainError(_("A field needs a name."))
    if kind not in FIELD_KINDS:
        raise DomainError(_("Unknown field type %(kind)s.", kind=repr(kind)))
    key = field_key(label)
    if key in RESERVED_KEYS:
        raise DomainError(_("'%(name)s' is reserved; choose another name.", name=label))
    if db.session.scalar(select(func.count()).select_from(Field).where(Field.key == key)):
        raise DomainError(_("A field named '%(name)s' exists already.", name=label))
    used = set(db.session.scalars(select(Field.number)))
    free = [n for n in range(1, MAX_FIELDS + 1) if n not in used]
    if not free:
        raise DomainError(_("A client can have at most %(n)s custom fields.", n=MAX_FIELDS))
    choices = [c.strip() for c in (choices or []) if c.strip()]
    if kind == "choice" and not choices:
        raise DomainError(_("A choice field needs at least one choice."))
    f = Field(
        agency_id=client.agency_id,
        client_id=client.id,
        number=free[0],
        key=key,
        label=label,
        kind=kind,
        choices=choices,
    )
    db.session.add(f)
    db.session.flush()
    record(
        "field.created", actor=actor, agency_id=client.agency_id, client_id=client.id, target=key, kind=kind
    )
    return f


def delete_field(*, actor: User, client: Client, f: Field) -> None:
    record("field.deleted", actor=actor, agency_id=client.agency_id, client_id=client.id, target=f.key)
    db.session.delete(f)
