"""Adoptions: preview, start, run (the job), resume (the sweeper), and reading one back for its page.

Which connection: a client is adopted from a `mailup` connection of its own agency — the one it sends
through (agency area) or the one whose page the operator is on (back-office). One live adoption per
client and connection at a time.

The job reads (reading.py, a commit per page with the cursor and a lease), then applies (apply.py, one
transaction), then stores the report as the job's result. A worker that dies leaves the lease to run
out; the sweeper queues the adoption again and it resumes at its cursor. The provider not answering
(outage, rate limit) is not a failure: the adoption waits a minute and goes on where it was.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from ..backends.mailup import MailupAuthError, MailupError, MailupRateLimited, MailupUnavailable
from ..extensions import db
from ..jobs import QUEUE_SYNC
from ..jobs.progress import LiveProgress, Progress, start_job
from ..jobs.queueing import PendingJob, enqueue_after_commit, redis_connection
from ..models import Adoption, Client, Connection, JobRun, User
from ..models.adoption import (
    ADOPTION_APPLYING,
    ADOPTION_DONE,
    ADOPTION_FAILED,
    ADOPTION_LIVE,
    ADOPTION_QUEUED,
    ADOPTION_READING,
)
from ..models.connection import KIND_MAILUP
from ..providers.connection import provider_client
from ..services import DomainError, NotFound
from ..services.audit import record
from ..services.connections import resolve_connection
from ..services.i18n_safe import _
from ..tenancy import all_tenants
from .apply import apply_adoption
from .preview import build_preview, sending_lists_of
from .reading import read_all

JOB = "adoption.run"
KIND = "adoption"
READ_LEASE = timedelta(minutes=2)
APPLY_LEASE = timedelta(minutes=15)
WAIT_AFTER_OUTAGE = timedelta(minutes=1)
JOB_TIMEOUT = 6 * 3600
MAX_RUNS = 60  # resumptions (killed workers, a minute's wait per outage) before the adoption gives up


def adoptable_connection(client: Client) -> Connection | None:
    """The provider account a client can be adopted from in the agency area: the one it sends email
    through, when that is a provider-side account."""
    connection = resolve_connection(client, "email")
    return connection if connection is not None and connection.kind == KIND_MAILUP else None


def get_adoption(adoption_id: int, client: Client) -> Adoption:
    adoption = db.session.scalar(
        select(Adoption).where(Adoption.id == adoption_id, Adoption.client_id == client.id)
    )
    if adoption is None:
        raise NotFound("adoption")
    return adoption


def adoptions_of(client: Client, connection: Connection) -> list[Adoption]:
    return list(
        db.session.scalars(
            select(Adoption)
            .where(Adoption.client_id == client.id, Adoption.connection_id == connection.id)
            .order_by(Adoption.id.desc())
            .limit(20)
        )
    )


def preview(connection: Connection, client: Client, **choices) -> dict:
    """Read the account (a few calls) and say what an adoption would do; writes nothing."""
    _check(connection, client)
    try:
        return build_preview(
            provider_client(connection),
            client,
            rate_per_s=_rate(connection),
            sending_lists=sending_lists_of(connection),
            **choices,
        )
    except MailupAuthError:
        raise DomainError(_("The previous provider account refused the stored credentials.")) from None
    except MailupError:
        raise DomainError(_("The previous provider account did not answer; try again in a minute.")) from None


def start_adoption(
    *,
    actor: User | None,
    connection: Connection,
    client: Client,
    confirmed: dict,
    targets: dict | None = None,
    enqueue: bool = True,
) -> Adoption:
    """Store the confirmed preview and queue the job (after the commit)."""
    _check(connection, client)
    live = db.session.scalar(
        select(Adoption.id).where(
            Adoption.client_id == client.id,
            Adoption.connection_id == connection.id,
            Adoption.state.in_(ADOPTION_LIVE),
        )
    )
    if live is not None:
        raise DomainError(_("An import from this account is already running for this client."))
    if not confirmed.get("lists"):
        raise DomainError(_("Choose at least one list to import."))
    adoption = Adoption(
        agency_id=client.agency_id,
        client_id=client.id,
        connection_id=connection.id,
        created_by_id=actor.id if actor else None,
        state=ADOPTION_QUEUED,
        options={
            "targets": {str(k): v for k, v in (targets or {}).items() if v},
            "groups_as": confirmed.get("groups_as", "segments"),
        },
        preview=confirmed,
        cursor={"step": 0, "page": 0},
        stats={},
        result={},
        error="",
    )
    db.session.add(adoption)
    db.session.flush()
    run = start_job(
        kind=KIND,
        queue=QUEUE_SYNC,
        job_name=JOB,
        agency_id=client.agency_id,
        client_id=client.id,
        actor_id=actor.id if actor else None,
        kwargs={"adoption_id": adoption.id},
        timeout=JOB_TIMEOUT,
        enqueue=enqueue,
    )
    run.total = int(confirmed.get("records") or 0)
    run.message = _("Waiting to start…")
    adoption.job_run_id = run.id
    record(
        "adoption.started",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=str(adoption.id),
        lists=len(confirmed["lists"]),
    )
    return adoption


def run_adoption(adoption_id: int, job_run_id: int) -> str:
    """The job: read from the cursor, apply, report. Returns the state it left the adoption in."""
    adoption = db.session.get(Adoption, adoption_id)
    if adoption is None or adoption.state not in ADOPTION_LIVE:
        return adoption.state if adoption else "missing"
    now = datetime.now(UTC)
    client = db.session.get(Client, adoption.client_id)
    connection = db.session.get(Connection, adoption.connection_id)
    run = db.session.get(JobRun, job_run_id)
    progress = Progress(run)
    if adoption.state == ADOPTION_QUEUED:
        adoption.state = ADOPTION_READING
        progress.begin(run.total, _("Reading the recipients of your previous provider account…"))
    runs = int((adoption.stats or {}).get("runs") or 0) + 1
    adoption.stats = {**(adoption.stats or {}), "runs": runs}
    if runs > MAX_RUNS:  # something other than the provider stops it every time: say so, stop trying
        return _fail(adoption, progress, _("The import was interrupted too many times; start it again."))
    read = int((adoption.stats or {}).get("read") or 0)

    def after_page(n: int) -> None:
        nonlocal read
        read += n
        adoption.stats = {**(adoption.stats or {}), "read": read}
        adoption.lease_until = datetime.now(UTC) + READ_LEASE
        progress.advance(
            min(read, run.total or read),
            _("%(n)s of %(total)s recipients read", n=f"{read:,}", total=f"{run.total:,}"),
        )

    try:
        if adoption.state == ADOPTION_READING:
            adoption.lease_until = now + READ_LEASE
            db.session.commit()
            api = provider_client(connection)
            try:
                read_all(adoption, api, client.default_region or "IT", after_page)
            finally:
                _count_calls(adoption, api)
            adoption.state = ADOPTION_APPLYING
        adoption.lease_until = datetime.now(UTC) + APPLY_LEASE
        db.session.commit()
        return _apply(adoption, client, connection, run, progress)
    except (MailupUnavailable, MailupRateLimited):
        db.session.rollback()
        adoption.lease_until = datetime.now(UTC) + WAIT_AFTER_OUTAGE  # the sweeper resumes it then
        progress.advance(run.done, _("The previous provider account is not answering; resuming in a minute."))
        return "waiting"
    except MailupAuthError:
        db.session.rollback()
        return _fail(adoption, progress, _("The previous provider account refused the stored credentials."))
    except MailupError as exc:
        db.session.rollback()
        return _fail(
            adoption,
            progress,
            _(
                "The previous provider account gave an answer that could not be used (%(what)s).",
                what=str(exc),
            ),
        )


def _count_calls(adoption: Adoption, api) -> None:
    """Calls made and 429 answers received, over every run of the adoption (the report shows them)."""
    stats = dict(adoption.stats or {})
    stats["calls"] = int(stats.get("calls") or 0) + api.stats.calls - api.stats.token_calls
    stats["throttled"] = int(stats.get("throttled") or 0) + api.stats.throttled
    adoption.stats = stats


def _apply(adoption: Adoption, client: Client, connection: Connection, run: JobRun, progress) -> str:
    live = LiveProgress(run.id, redis_connection())

    def say(message: str) -> None:  # the apply is one transaction: its messages go through Redis
        live.advance(run.done, message)

    began = time.monotonic()
    result, report = apply_adoption(adoption, client, connection, say)
    result["apply_seconds"] = round(time.monotonic() - began, 2)
    stats = adoption.stats or {}
    result["api_calls"], result["throttled"] = stats.get("calls", 0), stats.get("throttled", 0)
    report.add("calls", "", "made", result["api_calls"], f"{result['throttled']} answered 'too many calls'")
    live.clear()
    adoption.result = result
    adoption.state = ADOPTION_DONE
    adoption.lease_until = None
    adoption.finished_at = datetime.now(UTC)
    name = report.write(run.id)
    contacts = result["contacts"]
    record(
        "adoption.finished",
        actor=None,
        agency_id=client.agency_id,
        client_id=client.id,
        target=str(adoption.id),
        created=contacts["created"],
        updated=contacts["updated"],
    )
    progress.finish(
        _(
            "Import finished: %(created)s contacts created, %(updated)s updated, %(suppressed)s opt-outs added "
            "to the suppression list.",
            created=contacts["created"],
            updated=contacts["updated"],
            suppressed=sum(result["suppressions"]["added"].values()),
        ),
        result_name=f"previous-account-import-{adoption.id}.csv",
        result_file=name,
    )
    return ADOPTION_DONE


def _fail(adoption: Adoption, progress, message: str) -> str:
    adoption.state = ADOPTION_FAILED
    adoption.error = message
    adoption.lease_until = None
    adoption.finished_at = datetime.now(UTC)
    progress.fail(message)
    return ADOPTION_FAILED


def resume_stalled(now: datetime | None = None) -> list[int]:
    """The sweeper: queue again every live adoption whose lease ran out (its worker died, or it waits
    after an outage). Job ids name the lease that ran out, so two sweeps queue it once. Maintenance over
    every tenant (all_tenants); the job binds the adoption's own tenant."""
    now = now or datetime.now(UTC)
    queued = []
    with all_tenants():
        stalled = db.session.scalars(
            select(Adoption).where(
                Adoption.state.in_((ADOPTION_READING, ADOPTION_APPLYING)), Adoption.lease_until < now
            )
        ).all()
        for adoption in stalled:
            job_id = f"adoption-{adoption.id}-{int(adoption.lease_until.timestamp())}"
            enqueue_after_commit(
                db.session,
                PendingJob(
                    name=JOB,
                    queue=QUEUE_SYNC,
                    job_id=job_id,
                    agency_id=adoption.agency_id,
                    client_id=adoption.client_id,
                    kwargs={"adoption_id": adoption.id, "job_run_id": adoption.job_run_id},
                    timeout=JOB_TIMEOUT,
                    retries=0,
                ),
            )
            # Queued again: it is swept again only if this job, too, stops renewing the lease.
            adoption.lease_until = now + READ_LEASE
            queued.append(adoption.id)
        db.session.flush()
    return queued


def _check(connection: Connection, client: Client) -> None:
    if connection.kind != KIND_MAILUP or connection.agency_id != client.agency_id:
        raise NotFound("connection")


def _rate(connection: Connection) -> float:
    return float((connection.options or {}).get("rate_per_second") or 5.0)
