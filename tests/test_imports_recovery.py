"""A killed import neither blocks the client nor leaves anything behind.

The work-horse of a real worker is killed with SIGKILL in the middle of a big import (chunks already
applied inside its transaction); the sweep fails the import with a message the client reads, nothing it
wrote stays, its slot is free and the next import runs. A live import keeps its lease while it works,
even inside one long statement."""

from __future__ import annotations

import io
import json
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from rq.job import Job
from sqlalchemy import select, text

from portal.extensions import db
from portal.imports.engine import BATCH
from portal.imports.lease import Heartbeat, claim
from portal.imports.sweeper import sweep
from portal.jobs.progress import live_values
from portal.models import Client, Contact, ContactImport, JobRun, MailingList, Subscription
from portal.services import DomainError
from portal.services import fields as field_svc
from portal.services import imports as svc
from portal.tenancy import bind_tenant

from .support import client_for, run_jobs
from .worker_processes import kill_worker, start_worker, worker_env

INTERRUPTED = (
    "The import stopped unexpectedly (the worker was interrupted); nothing from it was kept. Start it again."
)
BIG_ROWS = 300_000


def _setup(app, world):
    ag, cid = world.agency_ids["AG1"], world.client_ids["A1"]
    with app.app_context(), bind_tenant(ag, cid):
        client = db.session.scalar(select(Client).where(Client.id == cid))
        field_svc.create_field(actor=None, client=client, label="Nome")
        lst = MailingList(agency_id=ag, client_id=cid, name="Newsletter")
        db.session.add(lst)
        db.session.flush()
        keep = Contact(agency_id=ag, client_id=cid, email="keep@example.com", fields={"nome": "Old"})
        db.session.add(keep)
        db.session.flush()
        db.session.add(Subscription(agency_id=ag, client_id=cid, list_id=lst.id, contact_id=keep.id))
        db.session.commit()
        return ag, cid, lst.id


def _big_file() -> bytes:
    """keep@example.com changes in the first chunk, so the killed transaction had rewritten it."""
    rows = ["email,Nome", "keep@example.com,New"]
    rows += [f"person{i:06d}@example.org,P{i}" for i in range(BIG_ROWS)]
    return ("\n".join(rows) + "\n").encode()


def _start(app, ag, cid, list_id, data: bytes) -> tuple[int, int]:
    with app.app_context(), bind_tenant(ag, cid):
        client = db.session.scalar(select(Client).where(Client.id == cid))
        imp = svc.create_import(actor=None, client=client, stream=io.BytesIO(data), filename="big.csv")
        mapping = svc.suggest_mapping(imp.columns, field_svc.list_fields())
        run = svc.start_import(actor=None, client=client, imp=imp, mapping=mapping, list_ids=[list_id])
        db.session.commit()  # the job leaves for Redis now
        return imp.id, run.id


def _snapshot(app, ag, cid) -> dict:
    """Everything an import writes: contacts, subscriptions, list counts."""
    with app.app_context(), bind_tenant(ag, cid):
        contacts = sorted(
            (c.email or "", c.phone or "", json.dumps(c.fields, sort_keys=True))
            for c in db.session.scalars(select(Contact))
        )
        subscriptions = sorted(
            tuple(row)
            for row in db.session.execute(
                select(
                    Subscription.list_id, Subscription.contact_id, Subscription.channel, Subscription.status
                )
            )
        )
        counts = sorted(
            (lst.id, tuple(sorted((k, v) for k, v in vars(lst).items() if k.endswith("_count"))))
            for lst in db.session.scalars(select(MailingList))
        )
        db.session.rollback()
        return {"contacts": contacts, "subscriptions": subscriptions, "lists": counts}


def _row(app, ag, cid, import_id) -> tuple[ContactImport, JobRun]:
    with app.app_context(), bind_tenant(ag, cid):
        imp = db.session.scalar(select(ContactImport).where(ContactImport.id == import_id))
        run = db.session.scalar(select(JobRun).where(JobRun.id == imp.job_run_id))
        db.session.expunge_all()
        return imp, run


def _wait_for_rows_read(app, run_id: int, rows: int, timeout: float = 120) -> None:
    redis = Redis.from_url(app.config["PORTAL_SETTINGS"].redis_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if int(live_values(run_id, redis).get("done", 0)) >= rows:
            return
        time.sleep(0.005)
    raise AssertionError(f"the import never read {rows} rows")


def test_sigkill_mid_import_then_the_sweep_fails_it_keeps_nothing_and_frees_the_slot(app, world):
    ag, cid, list_id = _setup(app, world)
    before = _snapshot(app, ag, cid)
    import_id, run_id = _start(app, ag, cid, list_id, _big_file())
    with app.app_context(), bind_tenant(ag, cid):
        upload = svc.stored_path(
            db.session.scalar(select(ContactImport).where(ContactImport.id == import_id)),
            db.session.scalar(select(Client).where(Client.id == cid)),
        )
    assert upload.exists()
    worker = start_worker(worker_env(app, PORTAL_IMPORT_LEASE_SECONDS="2"))
    try:
        # Six batches handed over means the writer took two from its queue of four: the first chunk was
        # applied (new contacts, keep@ rewritten) inside the import's transaction.
        _wait_for_rows_read(app, run_id, 6 * BATCH)
        kill_worker(worker)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)

    imp, run = _row(app, ag, cid, import_id)
    assert imp.status == "running", "the import ended before the kill: make the file bigger"
    assert _snapshot(app, ag, cid) == before  # the dead transaction kept nothing
    with app.app_context():
        assert sweep(now=imp.lease_until - timedelta(seconds=1))["failed"] == 0  # its lease still runs
        assert sweep(now=imp.lease_until + timedelta(seconds=1))["failed"] == 1
        assert sweep(now=imp.lease_until + timedelta(seconds=1))["failed"] == 0  # once

    imp, run = _row(app, ag, cid, import_id)
    assert (imp.status, imp.message, imp.lease_until) == ("failed", INTERRUPTED, None)
    assert (run.state, run.message) == ("failed", INTERRUPTED) and run.finished_at is not None
    assert not upload.exists() and not list(upload.parent.glob(f"import-{import_id}*"))
    assert _snapshot(app, ag, cid) == before

    # The slot is free: the next import runs, and what it changes is all there.
    next_id, _ = _start(app, ag, cid, list_id, b"email,Nome\nkeep@example.com,New\nfresh@example.com,Fresh\n")
    run_jobs(app)
    done, _ = _row(app, ag, cid, next_id)
    assert (done.status, done.created_count, done.updated_count) == ("done", 1, 1)
    with app.app_context(), bind_tenant(ag, cid):
        stored = {c.email: c.fields for c in db.session.scalars(select(Contact))}
    assert stored == {"keep@example.com": {"nome": "New"}, "fresh@example.com": {"nome": "Fresh"}}


def _claimed_imports(app, ag, cid, list_id, n: int, lease_seconds: int = 60) -> list[int]:
    """Imports as a killed worker leaves them: claimed, leased, and nobody renewing the lease."""
    ids = []
    for i in range(n):
        import_id, _ = _start(app, ag, cid, list_id, f"email\nslot{i}@example.com\n".encode())
        with app.app_context(), bind_tenant(ag, cid):
            assert claim(import_id, cid, lease_seconds=lease_seconds)
            db.session.commit()
        ids.append(import_id)
    return ids


def test_two_dead_imports_no_longer_hold_both_slots(app, world):
    ag, cid, list_id = _setup(app, world)
    dead = _claimed_imports(app, ag, cid, list_id, 2)
    with pytest.raises(DomainError, match="already running"):
        _start(app, ag, cid, list_id, b"email\nlater@example.com\n")
    with app.app_context():
        assert sweep()["failed"] == 0  # leases still running: they might be alive
        assert sweep(now=datetime.now(UTC) + timedelta(seconds=61))["failed"] == 2
    for import_id in dead:
        imp, run = _row(app, ag, cid, import_id)
        assert (imp.status, imp.message, run.state) == ("failed", INTERRUPTED, "failed")
    page = client_for(app, world, "A1.admin").get(f"/app/imports/{dead[0]}").get_data(as_text=True)
    assert "The import failed: no contact was changed." in page and INTERRUPTED in page
    later, _ = _start(app, ag, cid, list_id, b"email\nlater@example.com\n")
    run_jobs(app)  # the dead imports' jobs are still queued: they find their import settled and do nothing
    assert _row(app, ag, cid, later)[0].status == "done"
    for import_id in dead:
        assert _row(app, ag, cid, import_id)[0].status == "failed"
    with app.app_context(), bind_tenant(ag, cid):
        assert db.session.scalars(select(Contact.email).order_by(Contact.email)).all() == [
            "keep@example.com",
            "later@example.com",
        ]


def test_a_queued_import_whose_job_redis_lost_is_queued_again(app, world):
    ag, cid, list_id = _setup(app, world)
    import_id, _ = _start(app, ag, cid, list_id, b"email\nqueued@example.com\n")
    Redis.from_url(app.config["PORTAL_SETTINGS"].redis_url).flushdb()  # a Redis restart without persistence
    with app.app_context():
        assert sweep()["requeued"] == 0  # just queued: its job may still be on the way
        assert sweep(now=datetime.now(UTC) + timedelta(minutes=5))["requeued"] == 1
    run_jobs(app)
    assert _row(app, ag, cid, import_id)[0].status == "done"
    with app.app_context():
        assert sweep(now=datetime.now(UTC) + timedelta(minutes=5)) == {
            "failed": 0,
            "requeued": 0,
            "cancelled": 0,
            "busy": 0,
        }


def test_a_queued_import_whose_job_an_operator_cancelled_is_cancelled(app, world):
    """The back-office cancels a queued job in RQ (admin/rqmonitor.py): the sweep must not queue it again."""
    ag, cid, list_id = _setup(app, world)
    import_id, run_id = _start(app, ag, cid, list_id, b"email\nnever@example.com\n")
    redis = Redis.from_url(app.config["PORTAL_SETTINGS"].redis_url)
    Job.fetch(f"jobrun-{run_id}", connection=redis).cancel()
    with app.app_context():
        report = sweep(now=datetime.now(UTC) + timedelta(minutes=5))
    assert (report["cancelled"], report["requeued"]) == (1, 0)
    run_jobs(app)
    imp, run = _row(app, ag, cid, import_id)
    assert (imp.status, run.state) == ("cancelled", "cancelled")
    with app.app_context(), bind_tenant(ag, cid):
        assert db.session.scalars(select(Contact.email)).all() == ["keep@example.com"]


def test_the_heartbeat_renews_the_lease_and_notices_when_it_is_lost(app, world):
    ag, cid, list_id = _setup(app, world)
    (import_id,) = _claimed_imports(app, ag, cid, list_id, 1, lease_seconds=1)
    first = _row(app, ag, cid, import_id)[0].lease_until
    with app.app_context():
        beat = Heartbeat(db.engine, import_id, cid, lease_seconds=1)
        beat.start()
        try:
            deadline = time.monotonic() + 30
            while _row(app, ag, cid, import_id)[0].lease_until <= first and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _row(app, ag, cid, import_id)[0].lease_until > first
            assert not beat.lost.is_set()
            assert sweep(now=datetime.now(UTC) + timedelta(minutes=5))["failed"] == 1  # taken from it
            assert beat.lost.wait(30)  # the running import learns it at its next renewal and stops
        finally:
            beat.stop()
            beat.join(30)
    assert _row(app, ag, cid, import_id)[0].status == "failed"


def test_an_unexpected_error_fails_the_import_at_once(app, world):
    """A worker that cannot read the upload (storage not shared with the web process) fails the import
    with a readable message and frees the slot, instead of leaving it running."""
    ag, cid, list_id = _setup(app, world)
    import_id, _ = _start(app, ag, cid, list_id, b"email\nlost@example.com\n")
    with app.app_context(), bind_tenant(ag, cid):
        imp = db.session.scalar(select(ContactImport).where(ContactImport.id == import_id))
        svc.stored_path(imp, db.session.scalar(select(Client).where(Client.id == cid))).unlink()
    run_jobs(app)
    imp, run = _row(app, ag, cid, import_id)
    assert imp.status == "failed" and run.state == "failed" and imp.lease_until is None
    assert "nothing from it was kept" in imp.message and imp.message == run.message


def _waiting_for_a_lock(app) -> bool:
    """The import's UPDATE of stored contacts waits for a row lock (asked in a transaction of its own:
    within one, pg_stat_activity is a snapshot)."""
    with app.app_context(), db.engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database() AND query LIKE 'UPDATE contact SET %'"
                )
            ).scalar_one()
        )


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="SQLite has no row lock to hold an import inside one statement; there a live import holds the "
    "database's write lock, which keeps the sweeper from writing anything until the import ends",
)
def test_a_live_import_keeps_its_lease_through_one_long_statement(app, world):
    """PostgreSQL: a row lock held by this test stops the import inside one chunk's UPDATE; its lease is
    renewed meanwhile (by a heartbeat thread, not by the chunk loop), the sweep leaves it alone, and once
    the lock goes the import ends normally."""
    ag, cid, list_id = _setup(app, world)
    with app.app_context():
        gate = db.engine.connect()
    gate.execute(
        text("SELECT id FROM contact WHERE client_id = :cid AND email = 'keep@example.com' FOR UPDATE"),
        {"cid": cid},
    )
    worker = None
    try:
        import_id, _ = _start(
            app, ag, cid, list_id, b"email,Nome\nkeep@example.com,New\nother@example.com,O\n"
        )
        worker = start_worker(worker_env(app, PORTAL_IMPORT_LEASE_SECONDS="4"))
        deadline = time.monotonic() + 60
        while not _waiting_for_a_lock(app):
            assert time.monotonic() < deadline, "the import never reached the locked contact"
            time.sleep(0.05)
        waiting = _row(app, ag, cid, import_id)[0].lease_until
        while _row(app, ag, cid, import_id)[0].lease_until <= waiting + timedelta(seconds=1):
            assert time.monotonic() < deadline, "the lease was not renewed while the import waited"
            time.sleep(0.05)
        with app.app_context():
            assert sweep()["failed"] == 0
        assert _row(app, ag, cid, import_id)[0].status == "running"
    finally:
        gate.rollback()
        gate.close()
        if worker is not None and worker.wait(60) != 0:
            raise AssertionError("the worker did not end cleanly")
    imp, _ = _row(app, ag, cid, import_id)
    assert (imp.status, imp.created_count, imp.updated_count) == ("done", 1, 1)
