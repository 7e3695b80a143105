"""Append-only audit trail (checklist G39).

No code path updates or deletes an audit row: the ORM refuses it here (a flush carrying a changed or
deleted `AuditEvent`, and an ORM `update()`/`delete()` statement on its table), and on PostgreSQL a
trigger refuses UPDATE, DELETE and TRUNCATE whoever sends them (migration f0a1b2c3d406).

Work done while agency staff "act as client" names both: the staff member is the actor, the client is
the row's client, and `acting_as_client` says the actor was working inside that account.
"""

from __future__ import annotations

from flask import g, has_request_context
from sqlalchemy import event, insert
from sqlalchemy.orm import ORMExecuteState, Session

from ..extensions import db
from ..models import AuditEvent, User
from ..models.base import utcnow
from ..netutil import client_ip


class AuditLogError(RuntimeError):
    """Something tried to change or remove an audit row."""


def record(
    action: str,
    *,
    actor: User | None,
    agency_id: int | None,
    client_id: int | None = None,
    target: str = "",
    **details,
) -> AuditEvent:
    """Add one audit row to the current unit of work. Control characters are stripped (no log injection)."""
    if has_request_context() and g.get("acting_as_client") and g.get("client") is not None:
        details.setdefault("acting_as_client", g.client.name)
    row = AuditEvent(
        action=action,
        actor_id=actor.id if actor is not None and actor.id else None,
        actor_email=actor.email if actor is not None else "",
        agency_id=agency_id,
        client_id=client_id,
        target=_clean(target)[:255],
        ip=client_ip() if has_request_context() else "",
        details={k: _clean(str(v))[:500] for k, v in details.items()},
    )
    db.session.add(row)
    return row


def record_many(action: str, *, agency_id: int, client_id: int | None, rows: list[tuple[str, dict]]) -> int:
    """The rows `record` would add one by one, with no actor (bulk work from a job: the opt-outs a provider
    reports), in one INSERT: thousands of entries must not cost an ORM object each. Returns the count."""
    if not rows:
        return 0
    now = utcnow()
    values = [
        {
            "action": action,
            "actor_id": None,
            "actor_email": "",
            "agency_id": agency_id,
            "client_id": client_id,
            "target": _clean(target)[:255],
            "ip": "",
            "details": {k: _clean(str(v))[:500] for k, v in details.items()},
            "created_at": now,
        }
        for target, details in rows
    ]
    db.session.execute(insert(AuditEvent.__table__), values)
    return len(values)


def _clean(value: str) -> str:
    return "".join(ch if ch.isprintable() else " " for ch in value)


@event.listens_for(Session, "before_flush")
def _refuse_changes(session: Session, flush_context, instances) -> None:
    for obj in session.deleted:
        if isinstance(obj, AuditEvent):
            raise AuditLogError("the audit log is append-only: an audit row cannot be deleted")
    for obj in session.dirty:
        if isinstance(obj, AuditEvent) and session.is_modified(obj):
            raise AuditLogError("the audit log is append-only: an audit row cannot be changed")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if table is not None and getattr(table, "name", None) == AuditEvent.__tablename__:
        raise AuditLogError("the audit log is append-only: UPDATE and DELETE are refused")
