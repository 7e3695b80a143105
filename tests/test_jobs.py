"""Jobs: enqueue after commit, the runner binds the tenant, JobRun progress, worker health, queues."""

from __future__ import annotations

from click.testing import CliRunner
from redis import Redis
from rq import Queue, Worker
from sqlalchemy import select

from portal.extensions import db
from portal.jobs import QUEUE_DEFAULT, QUEUES
from portal.jobs.progress import start_job
from portal.jobs.queueing import PendingJob, enqueue_after_commit
from portal.jobs.runner import JOBS, _load_job_modules, execute, register
from portal.models import JobRun
from portal.tenancy import Tenant, bind_tenant, current_tenant

from .support import client_for, run_jobs

SEEN: list = []


@register("tests.record_tenant")
def _record_tenant(marker: str) -> None:
    SEEN.append((marker, current_tenant()))


def _queue(app, name=QUEUE_DEFAULT) -> Queue:
    return Queue(name, connection=Redis.from_url(app.config["PORTAL_SETTINGS"].redis_url))


def test_jobs_are_enqueued_only_after_commit(app, world):
    with app.app_context():
        job = PendingJob(
            name="tests.record_tenant", queue=QUEUE_DEFAULT, job_id="t-commit", kwargs={"marker": "x"}
        )
        enqueue_after_commit(db.session, job)
        assert _queue(app).count == 0  # nothing leaves before the commit
        db.session.commit()
        assert _queue(app).count == 1


def test_rolled_back_work_enqueues_nothing(app, world):
    with app.app_context():
        job = PendingJob(
            name="tests.record_tenant", queue=QUEUE_DEFAULT, job_id="t-rollback", kwargs={"marker": "y"}
        )
        enqueue_after_commit(db.session, job)
        db.session.rollback()
        db.session.commit()
        assert _queue(app).count == 0


def test_runner_binds_the_tenant_and_resets_it(app, world):
    SEEN.clear()
    ag1, a1 = world.agency_ids["AG1"], world.client_ids["A1"]
    with app.app_context():
        enqueue_after_commit(
            db.session,
            PendingJob(
                name="tests.record_tenant",
                queue=QUEUE_DEFAULT,
                job_id="t-bind",
                kwargs={"marker": "z"},
                agency_id=ag1,
                client_id=a1,
            ),
        )
        db.session.commit()
    run_jobs(app)
    assert SEEN == [("z", Tenant(agency_id=ag1, client_id=a1))]
    assert current_tenant() is None


def test_every_registered_job_runs_through_the_runner():
    _load_job_modules()
    assert "mail.send_transactional" in JOBS and "exports.audit_csv" in JOBS
    assert execute.__module__ == "portal.jobs.runner"


def test_export_job_reports_progress_and_result(app, world):
    ag1 = world.agency_ids["AG1"]
    owner = client_for(app, world, "AG1.owner")  # the login writes an audit row to export
    with app.app_context(), bind_tenant(ag1):
        run = start_job(
            kind="audit_export",
            queue=QUEUE_DEFAULT,
            job_name="exports.audit_csv",
            agency_id=ag1,
            client_id=None,
            actor_id=world.user_ids["AG1.owner"],
        )
        db.session.commit()
        run_id = run.id
    status = owner.get(f"/jobs/{run_id}.json").get_json()
    assert status["state"] == "queued" and status["result_url"] is None
    run_jobs(app)
    status = owner.get(f"/jobs/{run_id}.json").get_json()
    assert status["state"] == "done" and status["percent"] == 100 and status["final"]
    csv_body = owner.get(status["result_url"]).get_data(as_text=True)
    assert "login.succeeded" in csv_body and "owner@ag1.test" in csv_body
    # Another agency's staff: the job does not exist for them.
    other = client_for(app, world, "AG2.owner")
    assert other.get(f"/jobs/{run_id}.json").status_code == 404
    assert other.get(f"/jobs/{run_id}/result").status_code == 404
    with app.app_context(), bind_tenant(ag1):
        assert db.session.scalar(select(JobRun.state).where(JobRun.id == run_id)) == "done"


def test_worker_health_reports_live_workers(app, world):
    runner = CliRunner()
    health = app.cli.get_command(None, "worker-health")
    with app.app_context():
        result = runner.invoke(health, [], obj=None, standalone_mode=False, catch_exceptions=True)
    assert result.exit_code == 1 and "unhealthy" in result.output
    conn = Redis.from_url(app.config["PORTAL_SETTINGS"].redis_url)
    worker = Worker(list(QUEUES), connection=conn)
    worker.register_birth()
    worker.heartbeat()
    try:
        with app.app_context():
            result = runner.invoke(health, [], standalone_mode=False, catch_exceptions=True)
        assert result.exit_code == 0, result.output
        assert "healthy: 1 worker" in result.output
    finally:
        worker.register_death()


def test_the_worker_listens_on_every_queue():
    from portal import jobs

    declared = {v for k, v in vars(jobs).items() if k.startswith("QUEUE_")}
    assert declared == set(QUEUES)


def test_the_worker_connection_waits_out_the_blocking_dequeue(app):
    """redis-py 8 reads for at most 5 s by default: a pooled connection made before the Worker exists (the
    ticker's first SET is one) must still outlast RQ's BLPOP, or an idle worker logs "could not connect
    to Redis instance: Timeout reading from socket" again and again."""
    from portal.jobs.queueing import worker_connection

    with app.app_context():
        connection = worker_connection()
        connection.ping()  # made before the worker, back in the pool for its first BLPOP
        worker = Worker(list(QUEUES), connection=connection)
        pooled = connection.connection_pool.get_connection()
        try:
            assert pooled.socket_timeout is None or pooled.socket_timeout > worker.dequeue_timeout
        finally:
            connection.connection_pool.release(pooled)
            connection.close()
