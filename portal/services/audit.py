"""Append-only audit trail."""

from __future__ import annotations

from flask import has_request_context

from ..extensions import db
from ..models import AuditEvent, User
from ..netutil import client_ip


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
    event = AuditEvent(
        action=action,
        actor_id=actor.id if actor is not None and actor.id else None,
        actor_email=actor.email if actor is not None else "",
        agency_id=agency_id,
        client_id=client_id,
        target=_clean(target)[:255],
        ip=client_ip() if has_request_context() else "",
        details={k: _clean(str(v))[:500] for k, v in details.items()},
    )
    db.session.add(event)
    return event


def _clean(value: str) -> str:
    return "".join(ch if ch.isprintable() else " " for ch in value)
