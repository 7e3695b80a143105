"""Batch sources: create, change, delete, pin the server's key, compute the next run, start a run.

Services flush, never commit; the run itself is a job (runs.py). The password is stored as a Fernet token
(portal/crypto.py) like a delivery connection's secrets and never shown again: leaving the field empty
on edit keeps it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from flask import current_app
from sqlalchemy import select

from ..crypto import decrypt_json, encrypt_json
from ..extensions import db
from ..jobs import QUEUE_IMPORTS
from ..jobs.progress import start_job
from ..models import BatchRun, BatchSource, Client, MailingList, User
from ..models.batch import (
    DEFAULT_PORTS,
    PROTOCOL_SFTP,
    PROTOCOLS,
    RUN_FAILED,
    RUN_QUEUED,
    RUN_RUNNING,
    SCHEDULE_HOURLY,
    SCHEDULE_MANUAL,
    SCHEDULE_NIGHTLY,
    SCHEDULES,
)
from ..services import DomainError, NotFound
from ..services.audit import record
from ..services.campaigns import client_zone
from ..services.i18n_safe import _
from .remote import Endpoint

JOB_NAME = "batch.run"
JOB_TIMEOUT = 4 * 3600  # a night's files; each import inside keeps its own lease
STATUSES = ("subscribed", "pending", "unsubscribed")
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$")


@dataclass
class SourceValues:
    name: str
    protocol: str
    host: str
    port: int | None
    username: str
    password: str | None  # None or "": keep the stored one
    remote_dir: str = "/"
    list_id: int | None = None
    status: str = "subscribed"
    update_existing: bool = True
    clear_blanks: bool = False
    allow_send: bool = False
    schedule: str = SCHEDULE_NIGHTLY
    run_at: str = "02:00"
    enabled: bool = True
    notify_admins: bool = False
    server_key: str = ""


def list_sources() -> list[BatchSource]:
    return list(db.session.scalars(select(BatchSource).order_by(BatchSource.name)))


def get_source(source_id: int) -> BatchSource:
    source = db.session.scalar(select(BatchSource).where(BatchSource.id == source_id))
    if source is None:
        raise NotFound("batch source")
    return source


def get_run(run_id: int) -> BatchRun:
    run = db.session.scalar(select(BatchRun).where(BatchRun.id == run_id))
    if run is None:
        raise NotFound("batch run")
    return run


def runs_of(source: BatchSource, limit: int = 50) -> list[BatchRun]:
    query = select(BatchRun).where(BatchRun.source_id == source.id).order_by(BatchRun.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def _check(values: SourceValues, creating: bool) -> None:
    if not values.name.strip():
        raise DomainError(_("Give the source a name."))
    if values.protocol not in PROTOCOLS:
        raise DomainError(_("Choose FTP, FTPS or SFTP."))
    if not _HOST.match(values.host.strip()):
        raise DomainError(_("The server name %(host)s is not valid.", host=repr(values.host)))
    if values.port is not None and not 1 <= values.port <= 65535:
        raise DomainError(_("The port must be between 1 and 65535."))
    if not values.username.strip():
        raise DomainError(_("Enter the user name for the server."))
    if creating and not values.password:
        raise DomainError(_("Enter the password for the server."))
    if values.schedule not in SCHEDULES:
        raise DomainError(_("Unknown schedule."))
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", values.run_at or ""):
        raise DomainError(_("The time must be written HH:MM (24 hours)."))
    if values.status not in STATUSES:
        raise DomainError(_("Unknown subscription status."))
    if values.list_id is not None and (
        db.session.scalar(select(MailingList.id).where(MailingList.id == values.list_id)) is None
    ):
        raise DomainError(_("One of the chosen lists does not exist."))
    folder = values.remote_dir.strip() or "/"
    if "\x00" in folder or ".." in folder.split("/"):
        raise DomainError(_("The remote folder %(folder)s is not valid.", folder=repr(folder)))


def save_source(
    *, actor: User | None, client: Client, source: BatchSource | None, values: SourceValues
) -> BatchSource:
    creating = source is None
    _check(values, creating)
    name = values.name.strip()[:120]
    clash = db.session.scalar(
        select(BatchSource.id).where(BatchSource.name == name, BatchSource.id != (source.id if source else 0))
    )
    if clash is not None:
        raise DomainError(_("Another source is already called %(name)s.", name=name))
    if source is None:
        source = BatchSource(agency_id=client.agency_id, client_id=client.id, secrets_encrypted="")
        db.session.add(source)
    moved = source.host != values.host.strip() or source.protocol != values.protocol
    source.name, source.protocol = name, values.protocol
    source.host = values.host.strip().strip("[]")
    source.port = values.port or DEFAULT_PORTS[values.protocol]
    source.username = values.username.strip()[:120]
    if values.password:
        source.secrets_encrypted = encrypt_json({"password": values.password})
    if moved and not creating:
        source.server_key = ""  # another server (or protocol): its key must be confirmed again
    if values.server_key:
        source.server_key = values.server_key.strip()
    source.remote_dir = "/" + values.remote_dir.strip().strip("/") if values.remote_dir.strip("/ ") else "/"
    source.list_id = values.list_id
    source.options = {
        "status": values.status,
        "update_existing": values.update_existing,
        "clear_blanks": values.clear_blanks,
        "allow_send": values.allow_send,
    }
    source.schedule, source.run_at = values.schedule, values.run_at
    source.enabled, source.notify_admins = values.enabled, values.notify_admins
    source.next_run_at = next_run(source, client, datetime.now(UTC))
    db.session.flush()
    record(
        "batch_source.created" if creating else "batch_source.updated",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=source.name,
    )
    return source


def delete_source(*, actor: User | None, client: Client, source: BatchSource) -> None:
    """The history goes with it (runs and files); imports and campaigns it made stay."""
    busy = db.session.scalar(
        select(BatchRun.id).where(
            BatchRun.source_id == source.id, BatchRun.state.in_((RUN_QUEUED, RUN_RUNNING))
        )
    )
    if busy is not None:
        raise DomainError(_("A run of this source is under way; delete it once the run has finished."))
    name = source.name
    db.session.delete(source)
    db.session.flush()
    record("batch_source.deleted", actor=actor, agency_id=client.agency_id, client_id=client.id, target=name)


def pin_server_key(*, actor: User | None, client: Client, source: BatchSource, key: str) -> None:
    """The client confirmed the key "test connection" showed; runs accept that key only."""
    source.server_key = key.strip()
    db.session.flush()
    record(
        "batch_source.key_pinned",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=source.name,
    )


def endpoint(source: BatchSource) -> Endpoint:
    return Endpoint(
        protocol=source.protocol,
        host=source.host,
        port=source.port,
        username=source.username,
        password=decrypt_json(source.secrets_encrypted).get("password", ""),
        remote_dir=source.remote_dir,
        server_key=source.server_key,
    )


def allow_localhost() -> bool:
    """Loopback servers only where the deployment allows them (PORTAL_OUTBOUND_ALLOW_LOCALHOST, the same
    switch as every outbound request; tests): a client's server is otherwise on the internet."""
    s = current_app.config["PORTAL_SETTINGS"]
    return bool(s.testing or s.outbound_allow_localhost)


def needs_key(source: BatchSource) -> bool:
    return source.protocol == PROTOCOL_SFTP and not source.server_key


def next_run(source: BatchSource, client: Client, now: datetime) -> datetime | None:
    """The next scheduled moment after `now`, in UTC: nightly at run_at in the client's time zone (a
    daylight-saving jump moves the wall-clock time, not the day), hourly at run_at's minute."""
    if not source.enabled or source.schedule == SCHEDULE_MANUAL:
        return None
    hour, minute = (int(x) for x in source.run_at.split(":"))
    if source.schedule == SCHEDULE_HOURLY:
        at = now.replace(minute=minute, second=0, microsecond=0)
        return at if at > now else at + timedelta(hours=1)
    zone = client_zone(client)
    local_now = now.astimezone(zone)
    day = local_now.date()
    for offset in (0, 1, 2):
        at = datetime.combine(day + timedelta(days=offset), time(hour, minute), tzinfo=zone).astimezone(UTC)
        if at > now:
            return at
    return None


def active_run(source: BatchSource) -> BatchRun | None:
    """The run that holds the source. One whose worker died (running, but the source's hold ran out) or
    whose job was lost (queued for longer than a job may take) is ended here, so it never blocks the
    source for good."""
    run = db.session.scalar(
        select(BatchRun).where(BatchRun.source_id == source.id, BatchRun.state.in_((RUN_QUEUED, RUN_RUNNING)))
    )
    if run is None:
        return None
    now = datetime.now(UTC)
    held = source.lock_until is not None and source.lock_until > now
    lost = run.state == RUN_QUEUED and run.created_at < now - timedelta(seconds=JOB_TIMEOUT)
    if (run.state == RUN_RUNNING and not held) or lost:
        run.state, run.finished_at = RUN_FAILED, now
        run.message = "The run stopped before it finished (its worker was stopped); files not yet processed stay on the server."
        db.session.flush()
        return None
    return run


def start_run(
    *, actor: User | None, client: Client, source: BatchSource, trigger: str = "manual", enqueue: bool = True
) -> BatchRun:
    """Queue a run now (after commit). One at a time per source: a second start while one waits or runs
    is refused, so the folder is never read twice at once."""
    if active_run(source) is not None:
        raise DomainError(_("A run of this source is already queued or under way."))
    if needs_key(source):
        raise DomainError(_("Test the connection and confirm the server's key before the first run."))
    run = BatchRun(
        agency_id=client.agency_id,
        client_id=client.id,
        source_id=source.id,
        trigger=trigger,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(run)
    db.session.flush()
    job = start_job(
        kind="batch",
        queue=QUEUE_IMPORTS,
        job_name=JOB_NAME,
        agency_id=client.agency_id,
        client_id=client.id,
        actor_id=actor.id if actor else None,
        kwargs={"batch_run_id": run.id},
        timeout=JOB_TIMEOUT,
        enqueue=enqueue,
    )
    run.job_run_id = job.id
    if trigger == "manual":
        record(
            "batch_run.started",
            actor=actor,
            agency_id=client.agency_id,
            client_id=client.id,
            target=source.name,
        )
    return run
