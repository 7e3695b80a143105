"""Contact imports from upload to outcome: store the file, suggest a mapping, start the job, run it.

The same functions serve the web UI, the `portal contacts import` command and the benchmark.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..imports import engine, files, lease
from ..imports.sources import SourceError, preview, sniff, unpack
from ..imports.values import FieldSpec
from ..jobs import QUEUE_IMPORTS
from ..jobs.progress import LiveProgress, start_job
from ..jobs.queueing import redis_connection
from ..models import Client, ContactImport, Field, JobRun, MailingList, User
from ..models.jobrun import STATE_CANCELLED, STATE_DONE, STATE_FAILED, STATE_RUNNING
from ..models.transfer import (
    IMPORT_ACTIVE,
    IMPORT_CANCELLED,
    IMPORT_DONE,
    IMPORT_FAILED,
    IMPORT_QUEUED,
    IMPORT_UPLOADED,
)
from . import DomainError, NotFound
from .audit import record
from .fields import create_field, field_key
from .i18n_safe import _

MAX_ACTIVE_IMPORTS = 2  # per client: more would starve other tenants' imports
TARGETS = (engine.EMAIL, engine.PHONE, engine.PHONE_PREFIX, engine.PHONE_NUMBER)
STATUSES = ("subscribed", "unsubscribed", "pending")
_EMAIL_HEADERS = {"email", "e-mail", "mail", "email address", "indirizzo email", "posta elettronica", "111"}
_PHONE_HEADERS = {"phone", "mobile", "cell", "cellulare", "telefono", "mobile phone", "sms", "444"}


def _storage(client: Client) -> Path:
    return files.folder(client.agency_id, client.id)


def stored_path(imp: ContactImport, client: Client) -> Path:
    return _storage(client) / imp.stored_name


def get_import(import_id: int) -> ContactImport:
    imp = db.session.scalar(select(ContactImport).where(ContactImport.id == import_id))
    if imp is None:
        raise NotFound("import")
    return imp


def import_page(page: int = 1, per_page: int = 25):
    """The client's imports, newest first (the tenant filter scopes the rows)."""
    query = select(ContactImport).order_by(ContactImport.id.desc())
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def user_names(user_ids) -> dict[int, str]:
    """Who started imports: name (or email) by user id, for history tables."""
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.name, User.email).where(User.id.in_(ids)))
    return {uid: name or email for uid, name, email in rows}


def create_import(*, actor: User | None, client: Client, stream: BinaryIO, filename: str) -> ContactImport:
    """Store the upload under a server-chosen name and read its shape (encoding, delimiter, header)."""
    stored_name = secrets.token_hex(16) + ".upload"
    target = _storage(client) / stored_name
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as out:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    display = Path(filename.replace("\\", "/")).name[:200] or "upload.csv"
    if size == 0:
        target.unlink()
        raise DomainError(_("%(file)s: the file is empty.", file=display))
    imp = ContactImport(
        agency_id=client.agency_id,
        client_id=client.id,
        source_name=display,
        stored_name=stored_name,
        sha256=digest.hexdigest(),
        size_bytes=size,
        created_by_id=actor.id if actor else None,
    )
    try:
        with tempfile.TemporaryDirectory(dir=_storage(client)) as work:
            files, notes = unpack(target, display, Path(work))
            dialect = sniff(files[0].path)
            rows = preview(files[0].path, dialect, rows=1)
    except SourceError as exc:
        target.unlink(missing_ok=True)
        raise DomainError(str(exc)) from exc
    if not rows:
        target.unlink(missing_ok=True)
        raise DomainError(
            _("%(file)s: no readable row (every record is broken or has too many columns).", file=display)
        )
    header = rows[0]
    imp.encoding, imp.delimiter, imp.notes = dialect.encoding, dialect.delimiter, notes
    imp.has_header = _looks_like_header(header)
    imp.columns = (
        [h.strip() or f"Column {i + 1}" for i, h in enumerate(header)]
        if imp.has_header
        else [f"Column {i + 1}" for i in range(len(header))]
    )
    db.session.add(imp)
    db.session.flush()
    record(
        "import.uploaded",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=display,
        size=size,
    )
    return imp


def create_import_from_text(*, actor: User | None, client: Client, pasted: str) -> ContactImport:
    import io

    if not pasted.strip():
        raise DomainError(_("Paste at least one line."))
    return create_import(
        actor=actor, client=client, stream=io.BytesIO(pasted.encode("utf-8")), filename="pasted.csv"
    )


def _looks_like_header(row: list[str]) -> bool:
    """A first row without any address-like cell is a header."""
    return bool(row) and not any(
        "@" in cell or re.fullmatch(r"[+0-9 ()./-]{7,}", cell.strip()) for cell in row
    )


def sample_rows(imp: ContactImport, client: Client, rows: int = 8) -> list[list[str]]:
    with tempfile.TemporaryDirectory(dir=_storage(client)) as work:
        files, _ = unpack(stored_path(imp, client), imp.source_name, Path(work))
        from ..imports.sources import Dialect

        out = preview(
            files[0].path, Dialect(imp.encoding, imp.delimiter), rows=rows + (1 if imp.has_header else 0)
        )
    return out[1:] if imp.has_header else out


def suggest_mapping(columns: list[str], fields: list[Field]) -> dict[str, str]:
    """Column index → target, from header names (including the MailUp-style numeric header convention)."""
    by_number = {str(f.number): f for f in fields}
    by_name = {**{f.key: f for f in fields}, **{f.label.lower(): f for f in fields}}
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for i, name in enumerate(columns):
        low = name.strip().lower()
        target = ""
        if low in _EMAIL_HEADERS:
            target = engine.EMAIL
        elif low in _PHONE_HEADERS:
            target = engine.PHONE
        elif low == "222":
            target = engine.PHONE_PREFIX
        elif low == "333":
            target = engine.PHONE_NUMBER
        elif low in by_number:
            target = f"{engine.FIELD_PREFIX}{by_number[low].key}"
        elif low in by_name or field_key(low) in by_name:
            target = f"{engine.FIELD_PREFIX}{(by_name.get(low) or by_name[field_key(low)]).key}"
        if target and target not in taken:
            mapping[str(i)] = target
            taken.add(target)
    return mapping


def start_import(
    *,
    actor: User | None,
    client: Client,
    imp: ContactImport,
    mapping: dict[str, str],
    list_ids: list[int],
    update_existing: bool = True,
    status: str = "subscribed",
    clear_blanks: bool = False,
    consent_ip: str = "",
    enqueue: bool = True,
) -> JobRun:
    """Validate the mapping and options, create fields asked for on the fly, and queue the job."""
    if imp.status != IMPORT_UPLOADED:
        raise DomainError(_("This import has already been started."))
    active = db.session.scalar(
        select(func.count()).select_from(ContactImport).where(ContactImport.status.in_(IMPORT_ACTIVE))
    )
    if active >= MAX_ACTIVE_IMPORTS:
        raise DomainError(
            _("%(n)s imports are already running for this account; wait for one to finish.", n=active)
        )
    if status not in STATUSES:
        raise DomainError(_("Unknown subscription status."))
    resolved = _resolve_mapping(actor, client, imp, mapping)
    lists = list(db.session.scalars(select(MailingList).where(MailingList.id.in_(list_ids or [0]))))
    if len(lists) != len(set(list_ids)):
        raise DomainError(_("One of the chosen lists does not exist."))
    imp.mapping = resolved
    imp.options = {
        "list_ids": sorted(set(list_ids)),
        "update_existing": update_existing,
        "status": status,
        "clear_blanks": clear_blanks,
        "consent_ip": consent_ip,
    }
    imp.status = IMPORT_QUEUED
    run = start_job(
        kind="import",
        queue=QUEUE_IMPORTS,
        job_name=lease.JOB_NAME,
        agency_id=client.agency_id,
        client_id=client.id,
        actor_id=actor.id if actor else None,
        kwargs={"import_id": imp.id},
        timeout=lease.JOB_TIMEOUT,
        enqueue=enqueue,
    )
    imp.job_run_id = run.id
    record(
        "import.started",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=imp.source_name,
        lists=",".join(lst.name for lst in lists),
    )
    return run


def _resolve_mapping(actor, client: Client, imp: ContactImport, mapping: dict[str, str]) -> dict[str, str]:
    fields = {f.key: f for f in db.session.scalars(select(Field))}
    resolved: dict[str, str] = {}
    seen: set[str] = set()
    for index, target in sorted(mapping.items(), key=lambda kv: int(kv[0])):
        if not target:
            continue
        if not index.isdigit() or int(index) >= max(len(imp.columns), 1):
            raise DomainError(_("Column %(n)s is not in the file.", n=index))
        if target.startswith("new:"):
            kind = target.removeprefix("new:") or "text"
            label = imp.columns[int(index)]
            existing = fields.get(field_key(label))
            f = existing or create_field(actor=actor, client=client, label=label, kind=kind)
            fields[f.key] = f
            target = f"{engine.FIELD_PREFIX}{f.key}"
        elif target.startswith(engine.FIELD_PREFIX):
            if target.removeprefix(engine.FIELD_PREFIX) not in fields:
                raise DomainError(_("Column '%(column)s': unknown field.", column=imp.columns[int(index)]))
        elif target not in TARGETS:
            raise DomainError(
                _(
                    "Column '%(column)s': unknown target %(target)s.",
                    column=imp.columns[int(index)],
                    target=repr(target),
                )
            )
        if target in seen:
            raise DomainError(
                _(
                    "Two columns are mapped to the same target (%(target)s).",
                    target=target.removeprefix("field:"),
                )
            )
        seen.add(target)
        resolved[index] = target
    if engine.EMAIL not in seen and engine.PHONE not in seen and engine.PHONE_NUMBER not in seen:
        raise DomainError(_("Map one column to the email address or to the phone number."))
    return resolved


def build_plan(imp: ContactImport) -> engine.Plan:
    fields = {f.key: f for f in db.session.scalars(select(Field))}
    picks: dict[str, int] = {}
    specs: list[tuple[int, FieldSpec]] = []
    for index, target in imp.mapping.items():
        if target.startswith(engine.FIELD_PREFIX):
            f = fields.get(target.removeprefix(engine.FIELD_PREFIX))
            if f is not None:
                specs.append((int(index), FieldSpec(f.key, f.label, f.kind, tuple(f.choices or ()))))
        else:
            picks[target] = int(index)
    return engine.Plan(
        email=picks.get(engine.EMAIL),
        phone=picks.get(engine.PHONE),
        phone_prefix=picks.get(engine.PHONE_PREFIX),
        phone_number=picks.get(engine.PHONE_NUMBER),
        fields=tuple(sorted(specs)),
        column_names=tuple(imp.columns),
    )


def _cancel_key(import_id: int) -> str:
    return f"portal:import:{import_id}:cancel"


def cancel_import(*, actor: User, imp: ContactImport) -> None:
    """Queued imports stop at once; a running one stops at its next batch and rolls back completely."""
    if imp.status not in IMPORT_ACTIVE:
        raise DomainError(_("Only a queued or running import can be cancelled."))
    redis_connection().set(_cancel_key(imp.id), "1", ex=24 * 3600)
    if imp.status == IMPORT_QUEUED:
        imp.status = IMPORT_CANCELLED
        imp.message = "Cancelled before it started."
        files.remove_all(imp)
        run = db.session.scalar(select(JobRun).where(JobRun.id == imp.job_run_id)) if imp.job_run_id else None
        if run is not None:
            run.state = STATE_CANCELLED
            run.message = imp.message
    record(
        "import.cancelled",
        actor=actor,
        agency_id=imp.agency_id,
        client_id=imp.client_id,
        target=imp.source_name,
    )


def run_import(import_id: int, job_run_id: int | None = None) -> engine.Outcome | None:
    """Run a queued import to the end. Commits: the claim (running, with a lease a heartbeat renews from
    then on), the row estimate for the progress bar, then every contact with the outcome at once. A killed
    run leaves only the claim, which the sweeper ends once the lease has run out."""
    imp = get_import(import_id)
    if imp.status != IMPORT_QUEUED:
        return None  # cancelled, or a retry of finished work
    client = db.session.scalar(select(Client).where(Client.id == imp.client_id))
    run = db.session.scalar(select(JobRun).where(JobRun.id == job_run_id)) if job_run_id else None
    plan = build_plan(imp)
    options = engine.Options(
        list_ids=tuple(imp.options.get("list_ids", ())),
        update_existing=imp.options.get("update_existing", True),
        status=imp.options.get("status", "subscribed"),
        clear_blanks=imp.options.get("clear_blanks", False),
        consent_ip=imp.options.get("consent_ip", ""),
    )
    agency_id, client_id, region = client.agency_id, client.id, client.default_region
    lease_seconds = current_app.config["PORTAL_SETTINGS"].import_lease_seconds
    if not lease.claim(import_id, client_id, lease_seconds):
        db.session.rollback()
        return None  # another run of the same job (requeued by the sweeper) got there first
    if run is not None:
        run.state, run.started_at, run.message = STATE_RUNNING, datetime.now(UTC), "Reading the file…"
    db.session.commit()  # the UI sees "running", the sweeper the lease; no snapshot is held from here on
    redis = _redis_or_none()  # progress and cancellation need Redis; a command-line import runs without
    live = LiveProgress(run.id, redis) if run and redis else None

    def should_cancel() -> bool:
        return heartbeat.lost.is_set() or bool(redis and redis.get(_cancel_key(import_id)))

    heartbeat = lease.Heartbeat(db.engine, import_id, client_id, lease_seconds)
    heartbeat.start()
    work = None
    try:
        work = files.fresh_work_dir(imp)
        sources, notes = unpack(stored_path(imp, client), imp.source_name, work)
        specs = [engine.SourceSpec(f.name, f.path, sniff(f.path), imp.has_header) for f in sources]
        if run is not None:
            run.total = _estimate_rows(sources)
            db.session.commit()
        outcome = engine.run(
            db.session.connection(),
            agency_id=agency_id,
            client_id=client_id,
            default_region=region,
            sources=specs,
            plan=plan,
            options=options,
            on_progress=(lambda done, msg: live.advance(done, msg)) if live else None,
            should_cancel=should_cancel,
        )
        outcome.notes = notes
        return outcome if _record_outcome(import_id, outcome) else None
    except engine.ImportCancelled:
        db.session.rollback()
        _finish(import_id, IMPORT_CANCELLED, STATE_CANCELLED, "Cancelled: nothing was changed.")
        return None
    except SourceError as exc:
        db.session.rollback()
        _finish(import_id, IMPORT_FAILED, STATE_FAILED, str(exc))
        return None
    except Exception:
        # Whatever broke (a database error, storage the worker cannot read), the client learns it now
        # rather than when the lease runs out; the traceback goes to the job's failure record.
        db.session.rollback()
        message = _(
            "The import failed because of an internal error; nothing from it was kept. Start it again."
        )
        _finish(import_id, IMPORT_FAILED, STATE_FAILED, message)
        raise
    finally:
        heartbeat.stop()  # only now: the lease holds through the final commit too
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        if live:
            live.clear()
        heartbeat.join(timeout=60)  # a renewal under way may have waited for this import's own locks


def _redis_or_none():
    from redis.exceptions import RedisError

    try:
        conn = redis_connection()
        conn.ping()
        return conn
    except RedisError:
        return None


def _estimate_rows(sources) -> int:
    """Line count of the files: close to the record count (quoted newlines are rare), cheap, and only used
    to size the progress bar; the final count replaces it."""
    total = 0
    for f in sources:
        with f.path.open("rb") as fh:
            while chunk := fh.read(4 * 1024 * 1024):
                total += chunk.count(b"\n")
    return max(total, 1)


def _record_outcome(import_id: int, out: engine.Outcome) -> bool:
    imp = get_import(import_id)
    imp.rows_total, imp.created_count, imp.updated_count = out.rows, out.created, out.updated
    imp.unchanged_count, imp.invalid_count = out.unchanged, out.invalid
    imp.duplicate_count, imp.suppressed_count = out.duplicates, out.suppressed
    imp.errors_csv = out.errors_csv or None
    imp.notes = (imp.notes or []) + out.notes
    summary = (
        f"{out.created:,} created, {out.updated:,} updated, {out.unchanged:,} unchanged, "
        f"{out.invalid:,} invalid, {out.duplicates:,} duplicates, {out.suppressed:,} suppressed"
    )
    return _finish(import_id, IMPORT_DONE, STATE_DONE, summary, rows=out.rows)


def _finish(import_id: int, status: str, run_state: str, message: str, rows: int = 0) -> bool:
    """Commit the import's end with whatever the transaction holds (the contacts, for a done import). When
    another path ended it first — the sweeper, after this run had lost its lease — roll everything back."""
    client_id = db.session.scalar(select(ContactImport.client_id).where(ContactImport.id == import_id))
    now = datetime.now(UTC)
    if not lease.settle(import_id, client_id, status, run_state, message, now=now, rows=rows):
        db.session.rollback()
        return False
    db.session.commit()
    return True
