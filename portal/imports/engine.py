"""The import engine: stream rows → validate in Python → stage in a temporary table → set-based SQL.

Never an ORM object per row. Python does what only Python can (CSV parsing, address syntax, typed field
values) and keeps one 64-bit hash per key for in-file duplicates; everything that compares against stored
data — suppression, matching existing contacts, upserts, subscriptions, list counts — is a handful of
statements over the staging table (stage.py), applied chunk by chunk on a writer thread while this one
reads on. PostgreSQL loads the stage with COPY, SQLite with one JSON-array insert per batch.

The caller owns the transaction: the whole import commits at once or not at all, so a failed or cancelled
import leaves stored contacts exactly as they were.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from sqlalchemy.engine import Connection

from ..concurrency import prompt_gil_handover
from ..csvsafe import safe_cell
from .addresses import InvalidAddress, normalise_email, normalise_phone
from .sources import Dialect, read_rows
from .stage import PHONE_TAKEN, Stage, StageWriter
from .values import FieldSpec, FieldValueError, converter

BATCH = 20_000  # rows handed to the writer at a time (a few batches wait in its queue: memory stays flat)
CHUNK_ROWS = 100_000  # rows applied to the database per round of set-based statements

MAX_REPORTED_ERRORS = 100_000

# Mapping targets for a column.
EMAIL = "email"
PHONE = "phone"  # complete number (+39 347…, 0039…, or national with the client's region)
PHONE_PREFIX = "phone_prefix"  # country calling code column (MailUp 222)
PHONE_NUMBER = "phone_number"  # number without prefix (MailUp 333)
FIELD_PREFIX = "field:"


class ImportCancelled(Exception):
    pass


@dataclass(frozen=True)
class SourceSpec:
    name: str
    path: Path
    dialect: Dialect
    has_header: bool


@dataclass(frozen=True)
class Plan:
    """Column indexes for each target, resolved from the user's mapping."""

    email: int | None = None
    phone: int | None = None
    phone_prefix: int | None = None
    phone_number: int | None = None
    fields: tuple[tuple[int, FieldSpec], ...] = ()
    column_names: tuple[str, ...] = ()

    def column_name(self, index: int | None) -> str:
        if index is None:
            return ""
        return self.column_names[index] if index < len(self.column_names) else f"Column {index + 1}"


@dataclass(frozen=True)
class Options:
    list_ids: tuple[int, ...]
    update_existing: bool = True
    status: str = "subscribed"  # or "unsubscribed" (import as unsubscribed) / "pending" (double opt-in)
    clear_blanks: bool = False  # blank cells remove stored values instead of keeping them
    source: str = "import"
    consent_ip: str = ""
    # The channels whose subscriptions the import writes (an adoption imports each channel's status apart).
    channels: tuple[str, ...] = ("email", "sms")


@dataclass
class Outcome:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: int = 0
    duplicates: int = 0
    suppressed: int = 0
    errors_csv: bytes = b""
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            k: getattr(self, k)
            for k in ("rows", "created", "updated", "unchanged", "invalid", "duplicates", "suppressed")
        }


class ErrorReport:
    """CSV of rejected rows with the original file and line, the column, the value and the reason."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\r\n")
        self.writer.writerow(["file", "line", "column", "value", "reason"])
        self.count = 0

    def add(self, file: str, line: int, column: str, value: str, reason: str) -> None:
        self.count += 1
        if self.count <= MAX_REPORTED_ERRORS:
            self.writer.writerow([safe_cell(file), line, safe_cell(column), safe_cell(value[:200]), reason])

    def to_bytes(self) -> bytes:
        if self.count > MAX_REPORTED_ERRORS:
            self.writer.writerow(["", "", "", "", f"… and {self.count - MAX_REPORTED_ERRORS} more rows"])
        return self.buffer.getvalue().encode("utf-8-sig")  # BOM: Excel opens UTF-8 correctly


def run(
    conn: Connection,
    *,
    agency_id: int,
    client_id: int,
    default_region: str,
    sources: Iterable[SourceSpec],
    plan: Plan,
    options: Options,
    on_progress: Callable[[int, str], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    chunk_rows: int | None = None,
) -> Outcome:
    """Read and check every row here; a StageWriter thread applies them to the database chunk by chunk."""
    _write_lock_now(conn)
    out = Outcome()
    report = ErrorReport()
    check = _row_checker(plan, options, default_region)
    writer = StageWriter(
        Stage(conn, agency_id=agency_id, client_id=client_id, options=options), chunk_rows or CHUNK_ROWS
    )
    with prompt_gil_handover():  # the writer waits on the database, then needs the GIL back at once
        writer.start()
        try:
            _read(sources, plan, check, out, report, writer, on_progress, should_cancel)
            tally = writer.close()
        except BaseException:
            writer.abandon()  # the connection is ours again before the caller rolls back
            raise
    out.created, out.updated, out.unchanged = tally.created, tally.updated, tally.unchanged
    out.duplicates += tally.duplicates
    out.suppressed = tally.suppressed
    for line, value, reason in tally.errors:
        report.add("", line, "", value, reason)
    out.errors_csv = report.to_bytes() if report.count else b""
    return out


def _write_lock_now(conn: Connection) -> None:
    """SQLite: take the database's write lock when the import's transaction begins (BEGIN IMMEDIATE), not
    at its first write. A deferred transaction reads before it writes, and in WAL mode a transaction whose
    snapshot is older than another connection's commit (a web request, a send, this import's own lease
    heartbeat) cannot write at all: it would fail with "database is locked" at once. Waiting for the lock
    up front is subject to the busy timeout like any other writer."""
    if conn.dialect.name != "sqlite":
        return
    raw = conn.connection.driver_connection
    if not raw.in_transaction:  # the caller's transaction has not written yet: begin it as a writer
        raw.execute("BEGIN IMMEDIATE")


# Other set-based writers on the same tables (adopting a provider account) begin their transaction alike.
write_lock_now = _write_lock_now


def _read(sources, plan, check, out, report, writer, on_progress, should_cancel) -> None:
    """Stream every source through the row checker and hand the good rows to the writer in batches."""
    phone_column = plan.column_name(plan.phone if plan.phone is not None else plan.phone_number)
    # One 64-bit hash per key already taken by an earlier row: its email, and "tel:" + its number. A number
    # belongs to the first row that brings it: a later phone-only row is a duplicate, a later row with an
    # email imports without the number.
    seen: set[int] = set()
    batch: list[tuple] = []
    for source in sources:
        skip_first = source.has_header
        for line, values, error in read_rows(source.path, source.dialect):
            if skip_first:
                skip_first = False
                if values is not None:
                    continue
            out.rows += 1
            if values is None:
                out.invalid += 1
                report.add(source.name, line, "", "", error or "unreadable record")
                continue
            try:
                email, phone, fields_json = check(values)
            except RowError as exc:
                out.invalid += 1
                report.add(source.name, line, plan.column_name(exc.column), exc.value, exc.reason)
                continue
            if email is not None:
                key = hash(email)
                if key in seen:
                    out.duplicates += 1
                    continue
                seen.add(key)
                if phone is not None:
                    tel = hash("tel:" + phone)
                    if tel in seen:
                        report.add(source.name, line, phone_column, phone, PHONE_TAKEN)
                        phone = None
                    else:
                        seen.add(tel)
            else:
                tel = hash("tel:" + phone)
                if tel in seen:
                    out.duplicates += 1
                    continue
                seen.add(tel)
            batch.append((line, email, phone, fields_json))
            if len(batch) >= BATCH:
                writer.put(batch)
                batch = []
                if should_cancel and should_cancel():
                    raise ImportCancelled()
                if on_progress:
                    on_progress(out.rows, f"{out.rows:,} rows read")
    if batch:
        writer.put(batch)
    del seen
    if should_cancel and should_cancel():
        raise ImportCancelled()
    if on_progress:
        on_progress(out.rows, "Saving contacts…")


class RowError(Exception):
    def __init__(self, column: int | None, value: str, reason: str):
        self.column, self.value, self.reason = column, value, reason


def _row_checker(plan: Plan, options: Options, region: str) -> Callable[[list[str]], tuple]:
    """Build the per-row validation once per import: plain locals and prebuilt converters, because it runs
    for every row of million-row files. Returns (email, phone, fields_json) or raises RowError."""
    email_i, phone_i = plan.email, plan.phone
    prefix_i, number_i = plan.phone_prefix, plan.phone_number
    converters = [(i, spec.key, spec.label, converter(spec)) for i, spec in plan.fields]
    clear = options.clear_blanks
    dumps = orjson.dumps

    def cell(values: list[str], i: int | None) -> str:
        return values[i].strip() if i is not None and i < len(values) else ""

    def check(values: list[str]) -> tuple:
        n = len(values)
        email = phone = None
        raw = values[email_i].strip() if email_i is not None and email_i < n else ""
        if raw:
            try:
                email = normalise_email(raw)
            except InvalidAddress as exc:
                raise RowError(email_i, raw, f"email: {exc}") from None
        phone_raw, column = (cell(values, phone_i), phone_i) if phone_i is not None else ("", None)
        if not phone_raw and number_i is not None:
            number = cell(values, number_i)
            prefix = cell(values, prefix_i).lstrip("+").removeprefix("00")
            phone_raw, column = (f"+{prefix}{number}" if prefix and number else number), number_i
        if phone_raw:
            try:
                phone = normalise_phone(phone_raw, region)
            except InvalidAddress as exc:
                raise RowError(column, phone_raw, f"phone: {exc}") from None
        elif email is None:
            raise RowError(email_i, raw, "no email address or phone number")
        fields = {}
        for i, key, label, convert_value in converters:
            value = values[i].strip() if i < n else ""
            if not value:
                if clear:
                    fields[key] = None
                continue
            try:
                fields[key] = convert_value(value)
            except FieldValueError as exc:
                raise RowError(i, value, f"{label}: {exc}") from None
        return email, phone, dumps(fields).decode() if fields else "{}"

    return check
