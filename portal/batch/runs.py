"""One run of a batch source: connect, list the folder, and for each new file download → check → import
(→ campaign) → move to processed/ or failed/, recording each file in the run history.

Commits: the claim (running, the source locked), then one commit per file, then the end. A file is
judged only once it is fully downloaded and its checksum known; a lost connection ends the run, records
why, and leaves that file (and the rest) on the server for the next run. A file whose name and checksum
were processed before is not processed again: it is moved away and recorded as skipped.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select, update

from ..extensions import db
from ..imports import files as import_files
from ..models import BatchFile, BatchRun, BatchSource, Client, JobRun
from ..models.batch import (
    FILE_DONE,
    FILE_FAILED,
    FILE_RETRY,
    FILE_SKIPPED,
    RUN_DONE,
    RUN_FAILED,
    RUN_PARTIAL,
    RUN_QUEUED,
    RUN_RUNNING,
)
from ..models.jobrun import STATE_DONE, STATE_FAILED, STATE_RUNNING
from ..services import DomainError
from . import checks, process
from .connect import open_folder
from .package import KIND_PACKAGE, PackageError
from .reader import read_package
from .remote import FAILED, PROCESSED, Folder, RemoteError, RemoteFile
from .sources import JOB_TIMEOUT, allow_localhost, endpoint, get_run, next_run
from .summary import queue_summary


def run_batch(batch_run_id: int, job_run_id: int | None = None) -> dict | None:
    run = get_run(batch_run_id)
    if run.state != RUN_QUEUED:
        return None  # a retry of a run that already started or ended
    source = db.session.scalar(select(BatchSource).where(BatchSource.id == run.source_id))
    client = db.session.scalar(select(Client).where(Client.id == run.client_id))
    job = db.session.scalar(select(JobRun).where(JobRun.id == job_run_id)) if job_run_id else None
    if source is None or client is None or not _claim(source.id):
        run.state, run.message = RUN_FAILED, "Another run of this source was under way."
        _end_job(job, STATE_FAILED, run.message)
        db.session.commit()
        return None
    now = datetime.now(UTC)
    run.state, run.started_at = RUN_RUNNING, now
    if job is not None:
        job.state, job.started_at, job.message = STATE_RUNNING, now, "Connecting to the server…"
    db.session.commit()
    work = tempfile.mkdtemp(prefix=f"batch-{run.id}-", dir=import_files.folder(client.agency_id, client.id))
    try:
        with open_folder(endpoint(source), allow_localhost()) as folder:
            files = folder.list_files()
            run.files_seen = len(files)
            if job is not None:
                job.total, job.message = len(files), f"{len(files)} files to process"
            db.session.commit()
            for done, item in enumerate(files, start=1):
                _one_file(folder, item, run, source, client, Path(work) / f"file-{done}")
                if job is not None:
                    job.done, job.message = done, f"{done} of {len(files)} files"
                db.session.commit()
    except RemoteError as exc:
        db.session.rollback()
        run = get_run(batch_run_id)
        run.message = str(exc)
    except Exception:
        # Whatever else broke, the history says so now and the source is free again; the traceback goes
        # to the job's failure record.
        db.session.rollback()
        get_run(
            batch_run_id
        ).message = (
            "The run stopped because of an internal error; files not yet processed stay on the server."
        )
        _finish(batch_run_id, job_run_id)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _finish(batch_run_id, job_run_id)


def _claim(source_id: int) -> bool:
    """The source is held for the length of a job; a crashed run's hold simply runs out."""
    now = datetime.now(UTC)
    moved = db.session.execute(
        update(BatchSource)
        .where(
            BatchSource.id == source_id, or_(BatchSource.lock_until.is_(None), BatchSource.lock_until < now)
        )
        .values(lock_until=now + timedelta(seconds=JOB_TIMEOUT))
        .execution_options(synchronize_session=False)
    ).rowcount
    return moved == 1


def _one_file(
    folder: Folder, item: RemoteFile, run: BatchRun, source: BatchSource, client: Client, work: str
):
    row = BatchFile(
        agency_id=client.agency_id,
        client_id=client.id,
        source_id=source.id,
        run_id=run.id,
        name=item.name[:255],
        size_bytes=item.size,
        status=FILE_RETRY,
    )
    work.mkdir()
    local = work / "download"
    try:
        row.sha256 = folder.download(item, local)
    except RemoteError as exc:
        row.message = str(exc)
        _save(row, run)
        raise  # the connection is gone: nothing more can be read in this run
    earlier = db.session.scalar(
        select(BatchFile)
        .where(
            BatchFile.source_id == source.id,
            BatchFile.name == row.name,
            BatchFile.sha256 == row.sha256,
            BatchFile.status.in_((FILE_DONE, FILE_FAILED)),
        )
        .order_by(BatchFile.id)
    )
    if earlier is not None:
        row.status = FILE_SKIPPED
        row.message = f"Already processed on {earlier.created_at:%Y-%m-%d %H:%M} UTC (same name and content)."
        row.moved_to = _move(folder, item.name, PROCESSED if earlier.status == FILE_DONE else FAILED, row)
        _save(row, run)
        return
    _process(local, item, row, run, source, client, work)
    if row.status != FILE_RETRY:
        row.moved_to = _move(folder, item.name, PROCESSED if row.status == FILE_DONE else FAILED, row)
    _save(row, run)


def _process(local, item: RemoteFile, row: BatchFile, run, source, client, work) -> None:
    """Read, check, import, then the message; a failure at any point before the import changes nothing.
    The row is not in the session until _save: the import's own commits do not write it half-filled."""
    package_dir = work / "unpacked"
    package_dir.mkdir()
    try:
        package = read_package(local, item.name, package_dir)
        row.kind, row.action = package.kind, package.action
        target, sender = checks.check(client, source, package)
        imp = process.import_contacts(client, source, package, target) if package.import_path else None
        if imp is not None:
            row.import_id = imp.id
            row.message = imp.message
        notes = list(package.notes)
        if package.kind == KIND_PACKAGE:
            _message(client, package, target, sender, item.name, row)
        row.status = row.status if row.status == FILE_FAILED else FILE_DONE
        if notes:
            row.problems = [{"where": "", "what": n} for n in notes]
    except process.Busy as exc:
        db.session.rollback()
        row.status, row.message = FILE_RETRY, str(exc)
    except PackageError as exc:
        db.session.rollback()
        row.status, row.import_id = FILE_FAILED, exc.import_id
        row.problems = [p.as_dict() for p in exc.problems]
        row.message = "Nothing was changed: the file has problems." if exc.import_id is None else str(exc)


def _message(client, package, target, sender, file_name: str, row: BatchFile) -> None:
    """save: a draft; full/send: the draft, committed, then the send in a step of its own."""
    campaign = process.create_message(client, package, target, sender, file_name)
    row.campaign_id = campaign.id
    db.session.commit()
    if package.action == "save":
        row.message = (row.message + " " if row.message else "") + "Campaign saved as a draft."
        return
    try:
        recipients = process.send_message(client, campaign)
    except DomainError as exc:
        db.session.rollback()
        row.status = FILE_FAILED
        row.message = f"Contacts imported; the campaign was kept as a draft and not sent: {exc}"
        return
    row.message = (row.message + " " if row.message else "") + f"Campaign sent to {recipients:,} recipients."


def _move(folder: Folder, name: str, subfolder: str, row: BatchFile) -> str:
    try:
        return folder.move(name, subfolder)
    except RemoteError as exc:
        row.message = (row.message + " " if row.message else "") + f"{exc} It will be skipped next time."
        return ""


def _save(row: BatchFile, run: BatchRun) -> None:
    run = db.session.merge(run) if run not in db.session else run
    db.session.add(row)
    if row.status in (FILE_DONE, FILE_SKIPPED):
        run.files_done += 1
    elif row.status == FILE_FAILED:
        run.files_failed += 1
    db.session.commit()


def _finish(batch_run_id: int, job_run_id: int | None) -> dict:
    run = get_run(batch_run_id)
    source = db.session.scalar(select(BatchSource).where(BatchSource.id == run.source_id))
    client = db.session.scalar(select(Client).where(Client.id == run.client_id))
    retry = db.session.scalar(
        select(BatchFile.id).where(BatchFile.run_id == run.id, BatchFile.status == FILE_RETRY)
    )
    now = datetime.now(UTC)
    if run.message or (run.files_failed and not run.files_done):
        run.state = RUN_FAILED
    elif run.files_failed or retry is not None:
        run.state = RUN_PARTIAL
    else:
        run.state = RUN_DONE
    if not run.message:
        run.message = (
            f"{run.files_seen} files found: {run.files_done} processed, {run.files_failed} failed."
            if run.files_seen
            else "No new file on the server."
        )
    run.finished_at = now
    source.lock_until, source.last_run_at = None, now
    source.next_run_at = next_run(source, client, now)
    job = db.session.scalar(select(JobRun).where(JobRun.id == job_run_id)) if job_run_id else None
    _end_job(job, STATE_FAILED if run.state == RUN_FAILED else STATE_DONE, run.message)
    if source.notify_admins and (run.files_seen or run.state == RUN_FAILED):
        queue_summary(client, source, run)
    db.session.commit()
    return {"state": run.state, "files": run.files_seen, "done": run.files_done, "failed": run.files_failed}


def _end_job(job: JobRun | None, state: str, message: str) -> None:
    if job is not None:
        job.state, job.message, job.finished_at = state, message, datetime.now(UTC)
        if state == STATE_DONE:
            job.done = job.total
