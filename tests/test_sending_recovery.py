"""Exactly once from the recipient's point of view: a worker killed with SIGKILL mid-send, or Redis losing
every queued job, and after recovery each recipient has exactly one message — none missing.

The kill hits the work-horse, the process that holds the claims (worker_processes.kill_worker): killing
only RQ's parent would let the horse finish the batch itself, and lease expiry would never be tested."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from redis import Redis
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Campaign, Client, Delivery
from portal.sending import control
from portal.sending.sweeper import sweep
from portal.tenancy import bind_tenant

from .conftest import _free_port
from .sending_support import make_campaign
from .smtp_sink import GatedSink, start_sink
from .support import run_jobs
from .worker_processes import kill_worker, start_worker

PEOPLE = [(f"person{i:02d}@example.org", f"P{i}") for i in range(30)]


def _worker_env(app, sink_port: int) -> dict:
    s = app.config["PORTAL_SETTINGS"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "PYTEST"))}
    env.update(
        SECRET_KEY=s.secret_key,
        PORTAL_ENCRYPTION_KEYS=",".join(s.encryption_keys),
        DATABASE_URL=s.database_url,
        REDIS_URL=s.redis_url,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(sink_port),
        SMTP_TLS="none",
        PORTAL_BASE_DOMAIN=s.base_domain,
        PORTAL_INSTANCE_DIR=str(s.instance_dir),
        PORTAL_URL_SCHEME="https",
        PORTAL_SEND_LEASE_SECONDS="2",
        PORTAL_SEND_RETRY_SECONDS="0",  # a deferred recipient (4xx) is retried at once
    )
    return env


def _worker(app, sink_port: int) -> subprocess.Popen:
    return start_worker(_worker_env(app, sink_port))


def _start(app, s) -> None:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        control.start_send(actor=None, client=client, campaign=campaign)
        db.session.commit()


def _status_counts(app, s) -> dict:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        return dict(db.session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())


def _recover(app, sink_port: int) -> None:
    time.sleep(2.2)  # the killed worker's leases (2 s) expire
    with app.app_context():
        sweep()
    subprocess.run(
        [sys.executable, "-m", "portal.cli", "worker", "--burst"],
        env=_worker_env(app, sink_port),
        check=True,
        timeout=120,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_sigkill_mid_send_then_recovery_delivers_each_recipient_exactly_once(app, world):
    s = make_campaign(app, world, contacts=PEOPLE)
    sink, port = GatedSink(hold_after=10), _free_port()
    controller = start_sink(sink, port)
    try:
        _start(app, s)
        worker = _worker(app, port)
        assert sink.holding.wait(60), "the worker never reached the 11th message"
        kill_worker(worker)  # the horse first, mid-send, holding claimed rows; then the frozen parent
        sink.release.set()
        assert sum(sink.counts.values()) == 10
        mid = _status_counts(app, s)
        assert mid.get("sent") == 10 and mid.get("claimed", 0) > 0  # the dead worker's claims are stranded
        _recover(app, port)
    finally:
        controller.stop()
    assert len(sink.counts) == 30 and set(sink.counts.values()) == {1}
    assert all(n == 1 for n in sink.recipients.values()) and len(sink.recipients) == 30
    assert _status_counts(app, s) == {"sent": 30}
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert db.session.scalar(select(Campaign.status).where(Campaign.id == s.campaign_id)) == "sent"


def test_redis_losing_every_job_loses_no_recipient(app, world, outbox):
    s = make_campaign(app, world, contacts=PEOPLE[:12])
    _start(app, s)
    redis = Redis.from_url(app.config["PORTAL_SETTINGS"].redis_url)
    redis.flushdb()  # what a Redis restart without persistence does to the queues
    run_jobs(app)
    assert outbox.messages() == []  # nothing queued any more
    with app.app_context():
        report = sweep()
    assert report["requeued"] == 1
    run_jobs(app)
    sent = [str(m["X-Send-Id"]) for m in outbox.messages()]
    assert len(sent) == 12 and len(set(sent)) == 12
    with app.app_context():
        assert sweep()["finished"] == 0  # run_jobs already finished it; a second sweep changes nothing
    assert _status_counts(app, s) == {"sent": 12}
