"""The periodic fan-out: every minute, queue a run for each source whose time has come.

Runs across tenants (the ticker binds none), so it reads due sources under an explicit all_tenants() and
binds each source's client before starting its run. The next time is moved on in the same commit as the
run is queued, so a second tick in the same minute finds nothing to do.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from ..extensions import db
from ..models import BatchSource, Client
from ..services import DomainError
from ..tenancy import all_tenants, bind_tenant
from .sources import next_run, start_run


def queue_due_runs(now: datetime | None = None) -> list[int]:
    """Ids of the runs queued."""
    now = now or datetime.now(UTC)
    with all_tenants():
        due = db.session.execute(
            select(BatchSource.id, BatchSource.agency_id, BatchSource.client_id).where(
                BatchSource.enabled.is_(True), BatchSource.next_run_at <= now
            )
        ).all()
    queued = []
    for source_id, agency_id, client_id in due:
        with bind_tenant(agency_id, client_id):
            source = db.session.scalar(select(BatchSource).where(BatchSource.id == source_id))
            client = db.session.scalar(select(Client).where(Client.id == client_id))
            if source is None or client is None or source.next_run_at is None or source.next_run_at > now:
                db.session.rollback()
                continue
            source.next_run_at = next_run(source, client, now)
            if client.is_active:
                try:
                    queued.append(start_run(actor=None, client=client, source=source, trigger="schedule").id)
                except DomainError:
                    pass  # a run still under way, or no key pinned yet: the next time comes round
            db.session.commit()
    return queued
