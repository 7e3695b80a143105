"""The set-based half of an import: a temporary staging table, written by a thread of its own.

The reading thread (engine.run) parses and validates rows in Python; this writer loads them into the stage
and, every `chunk_rows` rows, applies the chunk to the real tables with a handful of statements — skip the
suppressed, match stored contacts, insert the new ones, merge fields into the existing ones, subscribe them
to the target lists — then empties the stage. The two halves overlap: while SQLite runs a statement (it
releases the GIL) or PostgreSQL works in its own process, Python validates the next rows.

Only this thread touches the connection while the import runs; the reader hands it batches through a
bounded queue, so memory stays flat whatever the file size. The caller still owns the one transaction: a
failed or cancelled import rolls everything back.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Connection

# PostgreSQL settings for the import's own transaction (SET LOCAL: they end with it).
PG_SETTINGS = (
    "temp_buffers = '128MB'",  # the stage is a temporary table (8 MB of buffers by default)
    "work_mem = '64MB'",  # hash joins between the stage and contact stay in memory
    "jit = off",  # compiling each big statement costs more than it saves here
)

SUBSCRIPTION_COLUMNS = "agency_id, client_id, list_id, contact_id, channel, status, consent_at, consent_ip, consent_source, updated_at"
QUEUED_BATCHES = 4
ANALYZE_AFTER_ROWS = 10_000
MAX_SQL_ERRORS = 100_000  # rows reported from the SQL side (suppressed, phone taken); counts stay exact
PHONE_TAKEN = "phone: already belongs to another contact; imported without it"  # the reader says it too


@dataclass
class Tally:
    """What the writer found; merged into the Outcome by the reader once the writer has finished."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    suppressed: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (line, value, reason)

    def error(self, line: int, value: str, reason: str) -> None:
        if len(self.errors) < MAX_SQL_ERRORS:
            self.errors.append((line, value, reason))


@dataclass(frozen=True)
class Batch:
    """Rows for the stage as the reader hands them over: counts, and the rows packed for the database."""

    rows: int
    phones: int  # rows with a number
    phone_only: int  # rows with a number and no email
    payload: bytes


class Stage:
    """The temporary table and the statements that apply one chunk of it."""

    def __init__(self, conn: Connection, *, agency_id: int, client_id: int, options) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.options = options
        self.params = {"aid": agency_id, "cid": client_id, "now": datetime.now(UTC)}
        self.lists = _lists(conn, client_id, options.list_ids)
        # One subscription per target list and channel it uses: the list ids and the contact column each
        # needs ("email" for the email channel, "phone" for SMS).
        self.target_lists: list[int] = []
        self.targets: list[str] = []
        for list_id, email_on, sms_on in self.lists:
            for enabled, column, channel in ((email_on, "email", "email"), (sms_on, "phone", "sms")):
                if enabled and channel in options.channels:
                    self.target_lists.append(list_id)
                    self.targets.append(column)
        self.phones = self.phone_only = 0  # rows of the staged chunk with a number / with a number only
        self.tally = Tally()
        if self.pg:
            for setting in PG_SETTINGS:
                conn.execute(text(f"SET LOCAL {setting}"))
            # New contacts take their ids from the sequence up front, so no second match is needed.
            self.contact_seq = conn.execute(
                text("SELECT pg_get_serial_sequence('contact', 'id')")
            ).scalar_one()
        conn.execute(text("DROP TABLE IF EXISTS import_stage"))
        conn.execute(
            text(
                "CREATE TEMPORARY TABLE import_stage (line INTEGER NOT NULL, email VARCHAR(254), phone VARCHAR(20), "
                "fields TEXT NOT NULL, contact_id INTEGER, is_new INTEGER NOT NULL DEFAULT 0)"
                + (" ON COMMIT DROP" if self.pg else "")
            )
        )
        if not self.pg:  # SQLite joins through indexes; PostgreSQL hash-joins the stage and needs none
            conn.execute(text("CREATE INDEX import_stage_contact ON import_stage (contact_id)"))

    def q(self, sql: str, **extra):
        return self.conn.execute(text(sql), {**self.params, **extra})

    def pack(self, rows: list[tuple]) -> Batch:
        """Called on the reader thread: whatever per-row work the load needs is done there, and the rows
        travel compact — COPY text for PostgreSQL, one JSON array for SQLite — for the writer to hand
        over whole."""
        phones = sum(1 for row in rows if row[2] is not None)
        phone_only = sum(1 for row in rows if row[1] is None)
        return Batch(len(rows), phones, phone_only, _copy_text(rows) if self.pg else orjson.dumps(rows))

    def load(self, batch: Batch) -> None:
        self.phones += batch.phones
        self.phone_only += batch.phone_only
        raw = self.conn.connection.driver_connection
        if self.pg:
            with (
                raw.cursor() as cur,
                cur.copy("COPY import_stage (line, email, phone, fields) FROM STDIN") as copy,
            ):
                copy.write(batch.payload)
        else:
            # One statement over a JSON array rather than executemany: SQLite parses and inserts the whole
            # batch in C without the GIL, instead of taking it back for every row while the reader wants it.
            raw.execute(
                "INSERT INTO import_stage (line, email, phone, fields) SELECT json_extract(value, '$[0]'), "
                "json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]') "
                "FROM json_each(?)",
                (batch.payload,),
            )

    def apply(self) -> None:
        """Apply the staged rows to contacts and subscriptions, then empty the stage.

        Statements that cannot change anything for this chunk (no numbers, nothing matched) are skipped:
        on a million-row file each costs a scan of the stage ten times over."""
        q, t, pg = self.q, self.tally, self.pg
        if not pg:  # SQLite plans its joins from these statistics; PostgreSQL estimates well without
            q("ANALYZE import_stage")

        # 1. Suppressed addresses (client list, agency-wide and platform-wide entries) are skipped entirely.
        blocked = (
            "SELECT address FROM suppression WHERE client_id = :cid AND channel = '{ch}' UNION SELECT address "
            "FROM blocked_address WHERE (agency_id = :aid OR agency_id IS NULL) AND channel = '{ch}'"
        )
        skipped = q(
            f"DELETE FROM import_stage WHERE (email IS NOT NULL AND email IN ({blocked.format(ch='email')})) "
            f"OR (email IS NULL AND phone IN ({blocked.format(ch='sms')})) RETURNING line, email, phone"
        ).all()
        for line, email, phone in sorted(skipped):
            t.error(line, email or phone, "skipped: the address is on the suppression list")
        t.suppressed += len(skipped)

        # 2. A number belongs to one contact. Claims inside the file were settled while reading; here the
        #    stored contacts: a number another contact already has is dropped from the row, which imports.
        if self.phones:
            taken = (
                "phone IS NOT NULL AND email IS NOT NULL AND EXISTS (SELECT 1 FROM contact c WHERE "
                "c.client_id = :cid AND c.phone = import_stage.phone AND (c.email IS NULL OR c.email <> import_stage.email))"
            )
            for line, phone in q(f"SELECT line, phone FROM import_stage WHERE {taken} ORDER BY line"):
                t.error(line, phone, PHONE_TAKEN)
            q(f"UPDATE import_stage SET phone = NULL WHERE {taken}")

        # 3. Match stored contacts: by email, else by phone.
        matched = self._match()
        if matched:  # two rows of the chunk reaching one stored contact (one by email, one by phone)
            dropped = q(
                "DELETE FROM import_stage WHERE contact_id IS NOT NULL AND line NOT IN "
                "(SELECT min(line) FROM import_stage WHERE contact_id IS NOT NULL GROUP BY contact_id)"
            ).rowcount
            t.duplicates += dropped
            matched -= dropped

        # 4. New contacts (the rows still unmatched) and their subscriptions to the target lists: a plain
        #    insert, since they have none yet. PostgreSQL does both in one statement, the subscriptions
        #    reading the new ids from the contact insert's RETURNING; SQLite inserts, then matches again.
        if self.options.clear_blanks:  # blank cells came as nulls, which a new contact has no use for
            fields = "jsonb_strip_nulls(fields::jsonb)::json" if pg else "json_patch('{}', fields)"
        else:
            fields = "fields::json" if pg else "fields"
        insert_contacts = (
            "INSERT INTO contact (agency_id, client_id, email, phone, fields, created_at, updated_at) "
            f"SELECT :aid, :cid, email, phone, {fields}, :now, :now FROM import_stage WHERE contact_id IS NULL"
        )
        subscribe_new = [
            f"INSERT INTO subscription ({SUBSCRIPTION_COLUMNS}) SELECT {self._values('new.id', i)} "
            f"FROM new WHERE new.{column} IS NOT NULL"
            for i, column in enumerate(self.targets)
        ]
        params = self._target_params()
        if pg:
            ctes = ",\n".join(f"s{i} AS ({sql})" for i, sql in enumerate(subscribe_new))
            t.created += q(
                f"WITH new AS ({insert_contacts} RETURNING id, email, phone)"
                + (f", {ctes}" if ctes else "")
                + " SELECT count(*) FROM new",
                **params,
            ).scalar_one()
        else:
            t.created += q(insert_contacts).rowcount
            self._match(mark_new=True)
            for sql in subscribe_new:
                q(
                    "WITH new AS (SELECT contact_id AS id, email, phone FROM import_stage WHERE is_new = 1) "
                    + sql,
                    **params,
                )

        # 5. Existing contacts: merge the file's values into the stored ones (count real changes only) and
        #    subscribe them. Someone stored who unsubscribed stays unsubscribed unless the import itself marks
        #    people as unsubscribed.
        updated = 0
        if matched and self.options.update_existing:
            if pg:
                merged = "jsonb_strip_nulls(contact.fields::jsonb || s.fields::jsonb)"
                changed = f"({merged} <> contact.fields::jsonb OR (s.phone IS NOT NULL AND contact.phone IS DISTINCT FROM s.phone))"
                set_fields = f"{merged}::json"
            else:
                merged = "json_patch(contact.fields, s.fields)"
                changed = f"({merged} <> json(contact.fields) OR (s.phone IS NOT NULL AND contact.phone IS NOT s.phone))"
                set_fields = merged
            updated = q(
                f"UPDATE contact SET fields = {set_fields}, phone = coalesce(s.phone, contact.phone), "
                f"updated_at = :now FROM import_stage s WHERE s.contact_id = contact.id AND s.is_new = 0 AND {changed}"
            ).rowcount
        t.updated += updated
        t.unchanged += matched - updated
        if matched:
            on_conflict = (
                "DO UPDATE SET status = 'unsubscribed', updated_at = excluded.updated_at"
                if self.options.status == "unsubscribed"
                else "DO NOTHING"
            )
            for i, column in enumerate(self.targets):
                q(
                    f"INSERT INTO subscription ({SUBSCRIPTION_COLUMNS}) SELECT {self._values('c.id', i)} "
                    f"FROM import_stage s JOIN contact c ON c.id = s.contact_id WHERE s.is_new = 0 "
                    f"AND c.{column} IS NOT NULL ON CONFLICT (list_id, contact_id, channel) {on_conflict}",
                    **params,
                )
        q("TRUNCATE import_stage" if pg else "DELETE FROM import_stage")
        self.phones = self.phone_only = 0

    def _match(self, *, mark_new: bool = False) -> int:
        """Set contact_id on the rows whose contact is stored: by email, else by number. Joins (UPDATE …
        FROM), not correlated subqueries: only matched rows are written. Two statements, not one with OR,
        so each uses its index. Returns the number of rows matched."""
        flag = ", is_new = 1" if mark_new else ""
        keys = [("email", "import_stage.email IS NOT NULL")]
        if self.phone_only:
            keys.append(("phone", "import_stage.email IS NULL"))
        return sum(
            self.q(
                f"UPDATE import_stage SET contact_id = c.id{flag} FROM contact c WHERE import_stage.contact_id IS NULL "
                f"AND {only} AND c.client_id = :cid AND c.{key} = import_stage.{key}"
            ).rowcount
            for key, only in keys
        )

    def _values(self, contact_id: str, target: int) -> str:
        channel = "email" if self.targets[target] == "email" else "sms"
        return f":aid, :cid, :l{target}, {contact_id}, '{channel}', :status, :now, :ip, :src, :now"

    def _target_params(self) -> dict:
        return {
            **{f"l{i}": list_id for i, list_id in enumerate(self.target_lists)},
            "status": self.options.status,
            "ip": self.options.consent_ip,
            "src": self.options.source,
        }

    def finish(self) -> None:
        """List counts, once, after the last chunk; fresh planner statistics after a large import."""
        if self.target_lists:
            # A list deleted while the import ran (possible on SQLite, which cannot lock it; see _lists)
            # takes the subscriptions the import gave it along.
            alive = {
                list_id for list_id, _, _ in _lists(self.conn, self.params["cid"], tuple(self.target_lists))
            }
            for list_id in set(self.target_lists) - alive:
                self.q("DELETE FROM subscription WHERE client_id = :cid AND list_id = :lid", lid=list_id)
        # The target lists only, each channel counted on its own (the (list_id, channel, status) index
        # answers each). Elsewhere counts move by deltas (list_counts.py): on PostgreSQL the row is locked
        # before it is counted, so the count's snapshot holds every delta committed until then.
        for list_id in sorted({list_id for list_id, _, _ in self.lists}):
            if self.pg:
                self.q(
                    "SELECT id FROM mailing_list WHERE id = :lid AND client_id = :cid FOR NO KEY UPDATE",
                    lid=list_id,
                )
            self.q(
                "UPDATE mailing_list SET "
                "email_subscribed_count = (SELECT count(*) FROM subscription s WHERE s.list_id = mailing_list.id "
                "AND s.channel = 'email' AND s.status = 'subscribed'), "
                "sms_subscribed_count = (SELECT count(*) FROM subscription s WHERE s.list_id = mailing_list.id "
                "AND s.channel = 'sms' AND s.status = 'subscribed') WHERE id = :lid AND client_id = :cid",
                lid=list_id,
            )
        if self.pg and self.tally.created + self.tally.updated >= ANALYZE_AFTER_ROWS:
            # PostgreSQL plans with statistics that autovacuum refreshes only some time after the commit; a
            # send started right after a big import would be planned for the tables as they were. ANALYZE
            # in the transaction counts its own new rows, so the statistics are right when it commits.
            self.q("ANALYZE contact")
            self.q("ANALYZE subscription")


class StageWriter(threading.Thread):
    """Runs the Stage on its own thread. put() hands over a batch of rows; close() waits for the end.

    The queue is small and bounded: when SQL is the slower half, the reader waits instead of piling rows up
    in memory. An error in the writer surfaces in the reader at its next put() or at close()."""

    def __init__(self, stage: Stage, chunk_rows: int) -> None:
        super().__init__(name="import-stage-writer", daemon=True)
        self.stage = stage
        self.chunk_rows = chunk_rows
        # Room for a few batches: the reader goes on validating while a chunk is being applied.
        self.batches: queue.Queue[Batch | None] = queue.Queue(maxsize=QUEUED_BATCHES)
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        staged, applied = 0, False
        try:
            while (batch := self.batches.get()) is not None:
                if self.stop.is_set():
                    return
                self.stage.load(batch)
                staged += batch.rows
                # The first chunk is small, so the database starts working while the reader is still at
                # the top of the file; the later ones are full size.
                if staged >= (self.chunk_rows if applied else self.chunk_rows // 5):
                    self.stage.apply()
                    staged, applied = 0, True
            if staged and not self.stop.is_set():
                self.stage.apply()
            if not self.stop.is_set():
                self.stage.finish()
        except BaseException as exc:  # handed to the reader, which raises it in its own thread
            self.error = exc

    def put(self, rows: list[tuple] | None) -> None:
        batch = None if rows is None else self.stage.pack(rows)
        while True:
            self._raise_if_failed()
            if not self.is_alive():
                raise RuntimeError("the import writer has stopped")
            try:
                self.batches.put(batch, timeout=0.5)
                return
            except queue.Full:
                continue

    def close(self) -> Tally:
        """Apply what is left and wait for the writer; re-raise its error, if any."""
        self.put(None)  # the end of the input
        self.join()
        self._raise_if_failed()
        return self.stage.tally

    def abandon(self) -> None:
        """Stop after the statement under way (the caller rolls back); safe to call at any point."""
        self.stop.set()
        while self.is_alive():
            try:
                self.batches.put_nowait(None)
            except queue.Full:
                pass
            self.join(timeout=0.2)

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error


# COPY's text format: tab between columns, \N for NULL, and these characters escaped inside a value.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: str | None) -> str:
    return "\\N" if value is None else value.translate(_COPY_ESCAPES)


def _copy_text(rows: list[tuple]) -> bytes:
    return "".join(
        f"{line}\t{_copy_value(email)}\t{_copy_value(phone)}\t{_copy_value(fields)}\n"
        for line, email, phone, fields in rows
    ).encode()


def _lists(conn: Connection, client_id: int, list_ids: tuple[int, ...]) -> list[tuple[int, bool, bool]]:
    if not list_ids:
        return []
    params = {f"l{i}": lid for i, lid in enumerate(list_ids)}
    placeholders = ", ".join(f":{k}" for k in params)
    # FOR KEY SHARE (what a foreign key check would take per row, taken once): a list cannot be deleted
    # while the import adds subscriptions to it. SQLite cannot lock a row: finish() checks again.
    lock = " FOR KEY SHARE" if conn.dialect.name == "postgresql" else ""
    rows = conn.execute(
        text(
            "SELECT id, email_enabled, sms_enabled FROM mailing_list WHERE client_id = :cid "
            f"AND id IN ({placeholders}){lock}"
        ),
        {"cid": client_id, **params},
    )
    return [(r[0], bool(r[1]), bool(r[2])) for r in rows]
