"""An import's hold on its work: claimed once, leased while it runs, settled once.

A worker claims a queued import (queued → running, with a lease) in a commit of its own, then applies the
whole file in one transaction that commits the contacts together with the outcome — so a killed worker
leaves no contact, subscription or count behind: the database rolls its transaction back. What it does
leave is the row saying "running", holding one of the client's import slots. Hence the lease: a heartbeat
thread renews it on a connection of its own while the import works, however long a single statement takes,
and the sweeper (imports/sweeper.py) fails an import whose lease ran out.

Every way an import ends — done, cancelled, failed, or declared dead by the sweeper — goes through settle(),
a conditional update from an active state, so exactly one of them wins. An import that lost its lease (its
worker stalled past it) learns so at its next renewal, stops, and its final commit cannot overwrite the
sweeper's verdict: it keeps nothing, as the client was told.

SQLite: once the import has written its first chunk it holds the database's single write lock until it
commits, so neither its heartbeat nor the sweeper can write meanwhile — a live import is never failed, and a
killed one releases the lock with its process.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models import ContactImport, JobRun
from ..models.transfer import IMPORT_ACTIVE, IMPORT_QUEUED, IMPORT_RUNNING
from ..services.audit import record
from ..services.i18n_safe import _
from . import files

JOB_NAME = "imports.run"
JOB_TIMEOUT = 3 * 3600  # seconds RQ lets one import run
BEATS_PER_LEASE = 4  # renewals per lease period: a few may fail (database busy) before the lease runs out


def interrupted_message() -> str:
    return _(
        "The import stopped unexpectedly (the worker was interrupted); nothing from it was kept. "
        "Start it again."
    )


def claim(import_id: int, client_id: int, lease_seconds: int) -> bool:
    """queued → running with a fresh lease, for one worker only; the caller commits."""
    until = datetime.now(UTC) + timedelta(seconds=lease_seconds)
    result = db.session.execute(
        update(ContactImport)
        .where(
            ContactImport.id == import_id,
            ContactImport.client_id == client_id,
            ContactImport.status == IMPORT_QUEUED,
        )
        .values(status=IMPORT_RUNNING, lease_until=until)
    )
    return result.rowcount == 1


class Heartbeat(threading.Thread):
    """Renews a running import's lease every lease/4 seconds on its own connection (the import's own
    transaction commits only at the end). `lost` is set when the import is no longer running (the sweeper
    failed it): the import checks it between batches and stops."""

    def __init__(self, engine: Engine, import_id: int, client_id: int, lease_seconds: int) -> None:
        super().__init__(name=f"import-{import_id}-lease", daemon=True)
        self.engine, self.import_id, self.client_id = engine, import_id, client_id
        self.lease = timedelta(seconds=lease_seconds)
        self.interval = lease_seconds / BEATS_PER_LEASE
        self.lost = threading.Event()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                renewed = self._renew()
            except SQLAlchemyError:
                continue  # database busy or away: the next beat tries again, well inside the lease
            if not renewed and not self.stopping.is_set():
                self.lost.set()
                return

    def _renew(self) -> bool:
        with self.engine.connect() as conn:
            result = conn.execute(
                update(ContactImport)
                .where(
                    ContactImport.id == self.import_id,
                    ContactImport.client_id == self.client_id,
                    ContactImport.status == IMPORT_RUNNING,
                )
                .values(lease_until=datetime.now(UTC) + self.lease)
            )
            conn.commit()
        return result.rowcount == 1

    def stop(self) -> None:
        """No renewal from now on (one under way finishes on its own; join() after the final commit)."""
        self.stopping.set()


def settle(
    import_id: int,
    client_id: int,
    status: str,
    run_state: str,
    message: str,
    *,
    now: datetime,
    rows: int = 0,
    expired_before: datetime | None = None,
) -> bool:
    """End an active import (and its JobRun, files and audit line) in the caller's transaction. False when
    another path ended it first: nothing is changed then, and the caller rolls back what it wrote.
    `expired_before`: only a running import whose lease ran out before that moment (the sweeper)."""
    conditions = [
        ContactImport.id == import_id,
        ContactImport.client_id == client_id,
        ContactImport.status.in_(IMPORT_ACTIVE),
    ]
    if expired_before is not None:
        conditions += [ContactImport.status == IMPORT_RUNNING, ContactImport.lease_until < expired_before]
    ended = db.session.execute(
        update(ContactImport)
        .where(*conditions)
        .values(status=status, message=message, finished_at=now, lease_until=None)
    )
    if ended.rowcount != 1:
        return False
    imp = db.session.scalar(select(ContactImport).where(ContactImport.id == import_id))
    files.remove_all(imp)
    run = db.session.scalar(select(JobRun).where(JobRun.id == imp.job_run_id)) if imp.job_run_id else None
    if run is not None:
        run.state, run.message, run.finished_at = run_state, message, now
        run.total = run.done = rows
    record(
        f"import.{status}",
        actor=None,
        agency_id=imp.agency_id,
        client_id=imp.client_id,
        target=imp.source_name,
        result=message,
    )
    return True
