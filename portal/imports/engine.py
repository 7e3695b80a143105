"""The import engine: stream rows → validate in Python → stage in a temporary table → set-based SQL.

Never an ORM object per row. Python does what only Python can (CSV parsing, address syntax, typed field
values) and keeps one 64-bit hash per key for in-file duplicates; everything that compares against stored
data — suppression, matching existing contacts, upserts, subscriptions, list counts — is a handful of
statements over the staging table. PostgreSQL loads the stage with COPY, SQLite with executemany.

The caller owns the transaction: the whole import commits at once or not at all, so a failed or cancelled
import leaves stored contacts exactly as they were.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Connection

from ..csvsafe import safe_cell
from .addresses import InvalidAddress, normalise_email, normalise_phone
from .sources import Dialect, read_rows
from .values import FieldSpec, FieldValueError, converter

BATCH = 20_000
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


class _Stage:
    """The temporary staging table, loaded in batches."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        suffix = "ON COMMIT DROP" if self.pg else ""
        conn.execute(text("DROP TABLE IF EXISTS import_stage"))
        conn.execute(
            text(
                "CREATE TEMPORARY TABLE import_stage (line INTEGER NOT NULL, email VARCHAR(254), phone VARCHAR(20), "
                f"fields TEXT NOT NULL, contact_id INTEGER, is_new INTEGER NOT NULL DEFAULT 0) {suffix}"
            )
        )

    def load(self, rows: list[tuple]) -> None:
        raw = self.conn.connection.driver_connection
        if self.pg:
            with (
                raw.cursor() as cur,
                cur.copy("COPY import_stage (line, email, phone, fields) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        else:
            raw.executemany("INSERT INTO import_stage (line, email, phone, fields) VALUES (?, ?, ?, ?)", rows)

    def index(self) -> None:
        for col in ("email", "phone", "contact_id", "line"):
            self.conn.execute(text(f"CREATE INDEX import_stage_{col} ON import_stage ({col})"))
        self.conn.execute(text("ANALYZE import_stage"))


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
) -> Outcome:
    out = Outcome()
    report = ErrorReport()
    stage = _Stage(conn)
    check = _row_checker(plan, options, default_region)
    seen: set[int] = set()  # hash of each key (email, or tel:+number) already taken by an earlier row
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
            key = hash(email or "tel:" + phone)
            if key in seen:
                out.duplicates += 1
                continue
            seen.add(key)
            batch.append((line, email, phone, fields_json))
            if len(batch) >= BATCH:
                stage.load(batch)
                batch = []
                if should_cancel and should_cancel():
                    raise ImportCancelled()
                if on_progress:
                    on_progress(out.rows, f"{out.rows:,} rows read")
    if batch:
        stage.load(batch)
    if should_cancel and should_cancel():
        raise ImportCancelled()
    if on_progress:
        on_progress(out.rows, "Saving contacts…")
    del seen
    stage.index()
    _apply(conn, stage, out, report, agency_id=agency_id, client_id=client_id, options=options)
    out.errors_csv = report.to_bytes() if report.count else b""
    return out


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


def _apply(
    conn: Connection,
    stage: _Stage,
    out: Outcome,
    report: ErrorReport,
    *,
    agency_id: int,
    client_id: int,
    options: Options,
) -> None:
    pg = stage.pg
    p = {"aid": agency_id, "cid": client_id, "now": datetime.now(UTC)}
    q = lambda sql, **extra: conn.execute(text(sql), {**p, **extra})  # noqa: E731

    # 1. Suppressed addresses (client list, agency-wide and platform-wide entries) are skipped entirely.
    blocked = (
        "SELECT address FROM suppression WHERE client_id = :cid AND channel = '{ch}' "
        "UNION SELECT address FROM blocked_address WHERE (agency_id = :aid OR agency_id IS NULL) AND channel = '{ch}'"
    )
    suppressed_where = (
        f"(email IS NOT NULL AND email IN ({blocked.format(ch='email')})) "
        f"OR (email IS NULL AND phone IN ({blocked.format(ch='sms')}))"
    )
    for line, email, phone in q(
        f"SELECT line, email, phone FROM import_stage WHERE {suppressed_where} ORDER BY line"
    ):
        report.add("", line, "", email or phone, "skipped: the address is on the suppression list")
    out.suppressed = q(f"DELETE FROM import_stage WHERE {suppressed_where}").rowcount

    # 2. A number can belong to one contact only: later claimants lose it (phone-only rows are duplicates).
    taken_by_other = (
        "EXISTS (SELECT 1 FROM contact c WHERE c.client_id = :cid AND c.phone = import_stage.phone "
        "AND (c.email IS NULL OR c.email <> import_stage.email))"
    )
    earlier_claim = "EXISTS (SELECT 1 FROM import_stage s2 WHERE s2.phone = import_stage.phone AND s2.line < import_stage.line)"
    out.duplicates += q(f"DELETE FROM import_stage WHERE email IS NULL AND {earlier_claim}").rowcount
    for line, phone in q(
        f"SELECT line, phone FROM import_stage WHERE phone IS NOT NULL AND email IS NOT NULL "
        f"AND ({taken_by_other} OR {earlier_claim}) ORDER BY line"
    ):
        report.add("", line, "", phone, "phone: already belongs to another contact; imported without it")
    q(
        f"UPDATE import_stage SET phone = NULL WHERE phone IS NOT NULL AND email IS NOT NULL "
        f"AND ({taken_by_other} OR {earlier_claim})"
    )

    # 3. Match stored contacts: by email, else by phone. Joins (UPDATE … FROM), not correlated subqueries:
    #    only matched rows are written, and PostgreSQL can hash-join. Two statements, not one with OR, so
    #    each can use the (client_id, email) / (client_id, phone) unique index.
    def match(mark_new: bool) -> None:
        flag = ", is_new = 1" if mark_new else ""
        q(
            f"UPDATE import_stage SET contact_id = c.id{flag} FROM contact c WHERE import_stage.contact_id IS NULL "
            "AND import_stage.email IS NOT NULL AND c.client_id = :cid AND c.email = import_stage.email"
        )
        q(
            f"UPDATE import_stage SET contact_id = c.id{flag} FROM contact c WHERE import_stage.contact_id IS NULL "
            "AND import_stage.email IS NULL AND c.client_id = :cid AND c.phone = import_stage.phone"
        )

    match(mark_new=False)
    out.duplicates += q(
        "DELETE FROM import_stage WHERE contact_id IS NOT NULL AND EXISTS (SELECT 1 FROM import_stage s2 "
        "WHERE s2.contact_id = import_stage.contact_id AND s2.line < import_stage.line)"
    ).rowcount
    matched = q("SELECT count(*) FROM import_stage WHERE contact_id IS NOT NULL").scalar_one()

    # 4. New contacts: the rows still unmatched. Matching again afterwards marks them new.
    clean = "jsonb_strip_nulls(fields::jsonb)::json" if pg else "json_patch('{}', fields)"
    out.created = q(
        "INSERT INTO contact (agency_id, client_id, email, phone, fields, created_at, updated_at) "
        f"SELECT :aid, :cid, email, phone, {clean}, :now, :now FROM import_stage WHERE contact_id IS NULL "
        "ORDER BY line"
    ).rowcount
    match(mark_new=True)

    # 5. Existing contacts: merge the file's values into the stored ones; count real changes only.
    if options.update_existing:
        if pg:
            merged = "jsonb_strip_nulls(contact.fields::jsonb || s.fields::jsonb)"
            changed = f"({merged} <> contact.fields::jsonb OR (s.phone IS NOT NULL AND contact.phone IS DISTINCT FROM s.phone))"
            out.updated = q(
                f"UPDATE contact SET fields = {merged}::json, phone = coalesce(s.phone, contact.phone), updated_at = :now "
                f"FROM import_stage s WHERE s.contact_id = contact.id AND s.is_new = 0 AND {changed}"
            ).rowcount
        else:
            merged = "json_patch(contact.fields, s.fields)"
            changed = f"({merged} <> json(contact.fields) OR (s.phone IS NOT NULL AND contact.phone IS NOT s.phone))"
            out.updated = q(
                f"UPDATE contact SET fields = {merged}, phone = coalesce(s.phone, contact.phone), updated_at = :now "
                f"FROM import_stage s WHERE s.contact_id = contact.id AND s.is_new = 0 AND {changed}"
            ).rowcount
    out.unchanged = matched - out.updated

    # 6. Subscriptions to the target lists, per channel the list uses. Someone who unsubscribed stays
    #    unsubscribed unless the import itself marks people as unsubscribed.
    on_conflict = (
        "DO UPDATE SET status = 'unsubscribed', updated_at = excluded.updated_at"
        if options.status == "unsubscribed"
        else "DO NOTHING"
    )
    for list_id, email_on, sms_on in _lists(conn, client_id, options.list_ids):
        for channel, enabled, column in (("email", email_on, "email"), ("sms", sms_on, "phone")):
            if not enabled:
                continue
            q(
                "INSERT INTO subscription (agency_id, client_id, list_id, contact_id, channel, status, consent_at, "
                "consent_ip, consent_source, updated_at) "
                f"SELECT :aid, :cid, :lid, c.id, '{channel}', :status, :now, :ip, :src, :now "
                f"FROM import_stage s JOIN contact c ON c.id = s.contact_id WHERE c.{column} IS NOT NULL "
                f"ON CONFLICT (list_id, contact_id, channel) {on_conflict}",
                lid=list_id,
                status=options.status,
                ip=options.consent_ip,
                src=options.source,
            )
        q(
            "UPDATE mailing_list SET subscribed_count = (SELECT count(*) FROM subscription s WHERE s.list_id = "
            "mailing_list.id AND s.status = 'subscribed') WHERE id = :lid AND client_id = :cid",
            lid=list_id,
        )


def _lists(conn: Connection, client_id: int, list_ids: tuple[int, ...]) -> list[tuple[int, bool, bool]]:
    if not list_ids:
        return []
    params = {f"l{i}": lid for i, lid in enumerate(list_ids)}
    placeholders = ", ".join(f":{k}" for k in params)
    rows = conn.execute(
        text(
            f"SELECT id, email_enabled, sms_enabled FROM mailing_list WHERE client_id = :cid AND id IN ({placeholders})"
        ),
        {"cid": client_id, **params},
    )
    return [(r[0], bool(r[1]), bool(r[2])) for r in rows]
