"""CSV exports of a client's audience as jobs: a list, a segment, the suppression list.

Rows stream from the database in batches by id with only the needed columns (never an ORM object per
contact); every cell goes through the formula-injection guard and every cell is quoted, so neither a
comma nor a semicolon spreadsheet can split a value into a new cell that starts a formula.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import func, select

from ..csvsafe import safe_cell
from ..extensions import db
from ..jobs import QUEUE_DEFAULT
from ..jobs.progress import Progress, start_job
from ..jobs.results import ResultFile
from ..models import Client, Contact, Field, JobRun, MailingList, Segment, Subscription, Suppression, User
from ..models.audience import CHANNELS
from . import DomainError, NotFound
from .audit import record
from .i18n_safe import _

EXPORT_KIND = "contacts_export"
JOB_NAME = "exports.contacts_csv"
SOURCES = ("list", "segment", "suppression")
BATCH = 5_000


# --- starting and finding exports -----------------------------------------------------------------


def parse_source(value: str) -> tuple[str, int | None]:
    """ "list:12" → ("list", 12); "suppression" → ("suppression", None). Anything else: NotFound."""
    kind, _, raw_id = (value or "").partition(":")
    if kind == "suppression" and not raw_id:
        return kind, None
    if kind in ("list", "segment") and raw_id.isdigit():
        return kind, int(raw_id)
    raise NotFound("export source")


def _source_object(kind: str, object_id: int | None):
    if kind == "suppression":
        return None
    model = MailingList if kind == "list" else Segment
    obj = db.session.scalar(select(model).where(model.id == object_id))
    if obj is None:
        raise NotFound(kind)
    return obj


def segments_available() -> bool:
    try:
        from . import segments  # noqa: F401
    except ImportError:
        return False
    return hasattr(segments, "segment_condition")


def export_sources(client: Client) -> list[tuple[str, str, str]]:
    """(value, kind, name) of everything this client can export, for the export form."""
    out = [
        (f"list:{lid}", "list", name)
        for lid, name in db.session.execute(
            select(MailingList.id, MailingList.name).order_by(MailingList.name)
        )
    ]
    if segments_available():
        out += [
            (f"segment:{sid}", "segment", name)
            for sid, name in db.session.execute(select(Segment.id, Segment.name).order_by(Segment.name))
        ]
    out.append(("suppression", "suppression", ""))
    return out


def file_name(kind: str, obj) -> str:
    """Server-chosen: a slug of the object's name and the date, nothing else from the user."""
    base = {"list": "list", "segment": "segment", "suppression": "suppression-list"}[kind]
    if obj is not None:
        slug = re.sub(r"[^a-z0-9]+", "-", obj.name.lower()).strip("-")[:40]
        base = f"{base}-{slug or obj.id}"
    return f"{base}-{datetime.now().strftime('%Y%m%d')}.csv"


def start_export(*, actor: User | None, client: Client, source: str) -> JobRun:
    kind, object_id = parse_source(source)
    if kind == "segment" and not segments_available():
        raise DomainError(_("Segments cannot be exported yet."))
    obj = _source_object(kind, object_id)
    run = start_job(
        kind=EXPORT_KIND,
        queue=QUEUE_DEFAULT,
        job_name=JOB_NAME,
        agency_id=client.agency_id,
        client_id=client.id,
        actor_id=actor.id if actor else None,
        kwargs={"source": kind, "object_id": object_id},
        timeout=3600,
    )
    run.message = file_name(kind, obj)  # shown until the job reports; replaced by its own messages
    record(
        "export.started",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=obj.name if obj is not None else "suppression",
        kind=kind,
    )
    return run


def get_export(run_id: int) -> JobRun:
    run = db.session.scalar(select(JobRun).where(JobRun.id == run_id, JobRun.kind == EXPORT_KIND))
    if run is None:
        raise NotFound("export")
    return run


def recent_exports(limit: int = 10) -> list[JobRun]:
    return list(
        db.session.scalars(
            select(JobRun).where(JobRun.kind == EXPORT_KIND).order_by(JobRun.id.desc()).limit(limit)
        )
    )


# --- writing the file (runs in the job) -----------------------------------------------------------


class _Writer:
    """The export's rows, streamed to its result file as they come (jobs/results.py)."""

    def __init__(self, run_id: int) -> None:
        self.file = ResultFile(run_id, quoting=csv.QUOTE_ALL)

    def row(self, values) -> None:
        self.file.writer.writerow([_safe(_text(v)) for v in values])


# A separator (or line break) inside a cell, then a formula character: a spreadsheet that splits the line on
# another separator than ours (`;` in Italian Excel) would start a new cell with a formula there.
_BREAKOUT = re.compile(r"""([,;\t\r\n|][\s"]*)(?=[=+\-@＝＋－＠])""")


def _safe(text: str) -> str:
    """safe_cell (a risky first character gets a quote), plus a quote after every breakout separator."""
    return safe_cell(_BREAKOUT.sub(r"\1'", text))


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _fields() -> list[tuple[str, str]]:
    return list(db.session.execute(select(Field.key, Field.label).order_by(Field.number)))


def _contact_batches(contact_filter) -> Iterator[list]:
    """(id, email, phone, fields) rows in id order, BATCH at a time; `contact_filter` narrows them."""
    last_id = 0
    while True:
        query = select(Contact.id, Contact.email, Contact.phone, Contact.fields).where(Contact.id > last_id)
        if contact_filter is not None:
            query = query.where(contact_filter)
        rows = db.session.execute(query.order_by(Contact.id).limit(BATCH)).all()
        if not rows:
            return
        yield rows
        last_id = rows[-1][0]


def _write_list(progress: Progress, out: _Writer, list_id: int) -> int:
    members = select(Subscription.contact_id).where(Subscription.list_id == list_id)
    total = db.session.scalar(
        select(func.count()).select_from(Contact).where(Contact.id.in_(members.scalar_subquery()))
    )
    progress.begin(total, "Exporting the list…")
    fields = _fields()
    header = ["email", "phone", *(label for _k, label in fields)]
    for channel in CHANNELS:
        header += [f"{channel} status", f"{channel} consent time (UTC)", f"{channel} consent source"]
    out.row(header)
    done = 0
    for rows in _contact_batches(Contact.id.in_(members.scalar_subquery())):
        subs: dict[tuple[int, str], tuple] = {
            (cid, channel): (status, at, source)
            for cid, channel, status, at, source in db.session.execute(
                select(
                    Subscription.contact_id,
                    Subscription.channel,
                    Subscription.status,
                    Subscription.consent_at,
                    Subscription.consent_source,
                ).where(
                    Subscription.list_id == list_id,
                    Subscription.contact_id >= rows[0][0],
                    Subscription.contact_id <= rows[-1][0],
                )
            )
        }
        for cid, email, phone, values in rows:
            values = values or {}
            line = [email, phone, *(values.get(key) for key, _l in fields)]
            for channel in CHANNELS:
                line += list(subs.get((cid, channel), ("", None, "")))
            out.row(line)
        done += len(rows)
        progress.advance(done)
    return done


def _write_segment(progress: Progress, out: _Writer, client: Client, segment: Segment) -> int:
    from .segments import segment_condition

    matching = segment_condition(client, segment.rules or {})
    total = db.session.scalar(select(func.count()).select_from(Contact).where(matching))
    progress.begin(total, "Exporting the segment…")
    fields = _fields()
    out.row(["email", "phone", *(label for _k, label in fields)])
    done = 0
    for rows in _contact_batches(matching):
        for _cid, email, phone, values in rows:
            values = values or {}
            out.row([email, phone, *(values.get(key) for key, _l in fields)])
        done += len(rows)
        progress.advance(done)
    return done


def _write_suppression(progress: Progress, out: _Writer) -> int:
    total = db.session.scalar(select(func.count()).select_from(Suppression))
    progress.begin(total, "Exporting the suppression list…")
    out.row(["channel", "address", "reason", "source", "note", "time (UTC)"])
    done, last_id = 0, 0
    while True:
        rows = db.session.execute(
            select(
                Suppression.id,
                Suppression.channel,
                Suppression.address,
                Suppression.reason,
                Suppression.source,
                Suppression.note,
                Suppression.created_at,
            )
            .where(Suppression.id > last_id)
            .order_by(Suppression.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            out.row(row[1:])
        done += len(rows)
        last_id = rows[-1][0]
        progress.advance(done)
    return done


def run_export(job_run_id: int, source: str, object_id: int | None = None) -> None:
    """The job body: stream the CSV to the run's result file (its download link expires after RESULT_TTL)."""
    run = db.session.scalar(select(JobRun).where(JobRun.id == job_run_id))
    if run is None or run.is_final:
        return  # deleted, or a retry of finished work
    progress = Progress(run)
    client = db.session.scalar(select(Client).where(Client.id == run.client_id))
    try:
        obj = _source_object(source, object_id)
    except NotFound:
        progress.fail("The list or segment no longer exists.")
        return
    name = file_name(source, obj)
    out = _Writer(run.id)
    try:
        if source == "list":
            count = _write_list(progress, out, obj.id)
        elif source == "segment":
            count = _write_segment(progress, out, client, obj)
        else:
            count = _write_suppression(progress, out)
    except BaseException:
        out.file.discard()
        raise
    progress.finish(f"{count:,} rows exported.", result_name=name, result_file=out.file.close())
