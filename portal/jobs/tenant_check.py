"""A job's ids must belong to the tenant it was queued for (checklist B14).

Jobs carry `(agency_id, client_id)` and object ids. Under the bound tenant a foreign id is simply not
found, and the job would return as if there were nothing to do; a job pairing one tenant with another
tenant's ids is forged or corrupt, so it must be visible: nothing runs and a security event is recorded
(platform-level, for the operator's audit log) and logged.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..services.audit import record
from ..tenancy import all_tenants

ACTION = "security.job_tenant_mismatch"  # written as a literal below: the audit-label test reads it


def foreign_ids(owned: dict, agency_id: int, client_id: int | None, kwargs: dict) -> list[str]:
    """Names of the ids in `kwargs` whose row exists but belongs to another tenant.

    `owned` maps a keyword to the model its id points at. A missing row is not foreign (deleted since:
    the job itself says there is nothing to do)."""
    found = []
    with all_tenants():
        for key, model in owned.items():
            object_id = kwargs.get(key)
            if object_id is None:
                continue
            columns = [model.agency_id]
            if hasattr(model, "client_id"):
                columns.append(model.client_id)
            row = db.session.execute(select(*columns).where(model.id == object_id)).first()
            if row is None:
                continue
            same_client = len(row) == 1 or client_id is None or row[1] == client_id
            if row[0] != agency_id or not same_client:
                found.append(f"{key}={object_id}")
    return found


def record_mismatch(name: str, agency_id: int, client_id: int | None, ids: list[str]) -> None:
    queued_for = f"agency {agency_id}" + (f", client {client_id}" if client_id is not None else "")
    current_app.logger.warning(
        "security: job %s queued for %s carries another tenant's ids (%s); not run",
        name,
        queued_for,
        ", ".join(ids),
    )
    with all_tenants():
        record(
            "security.job_tenant_mismatch",
            actor=None,
            agency_id=None,
            target=name,
            queued_for=queued_for,
            ids=", ".join(ids),
        )
        db.session.commit()
