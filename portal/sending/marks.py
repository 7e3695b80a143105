"""The thread that writes a claim's marks, in order, on its own database connection.

A message's "sent" mark must commit before the next message becomes irrevocable, but it need not hold
up the next message's envelope. So the loop hands the mark of message N to this thread and puts message
N+1 on the wire at once; the backend asks for N's mark (`ready`) only after the relay said 354 to N+1's
DATA, just before N+1's content goes (backends/base.py). The database round trip overlaps the relay's
round trips instead of following them, and still at most one accepted message is ever unmarked.

Every mark of a claim goes through this one thread, so the connection is never shared between threads
and marks commit in the order they were made. Each mark is one autocommit statement; on PostgreSQL
without waiting for the commit record's flush: a worker crash loses nothing committed, only a database
server crash could lose the last few marks (those messages would then be sent again).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import TextClause

from .lease import Lease

Mark = tuple[TextClause, dict]  # a conditional UPDATE of one claimed row, and its parameters


class Marks:
    def __init__(self, engine: Engine):
        self._engine = engine
        self._pool: ThreadPoolExecutor | None = None
        self._conn: Connection | None = None

    def __enter__(self) -> Marks:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="marks")
        try:
            self._conn = self._pool.submit(self._open).result()
        except BaseException:
            self._pool.shutdown()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._pool.submit(self._close).result()
        finally:
            self._pool.shutdown()

    def submit(self, lease: Lease, mark: Mark) -> Future:
        """Write the mark; the future says whether the row was still this claim's (False: lease lost)."""
        return self._pool.submit(_one, self._conn, lease, mark)

    def write(self, lease: Lease, mark: Mark) -> bool:
        return self.submit(lease, mark).result()

    def _open(self) -> Connection:
        conn = self._engine.connect()
        conn.execution_options(isolation_level="AUTOCOMMIT")
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET synchronous_commit TO OFF")
        return conn

    def _close(self) -> None:
        try:
            if self._conn.dialect.name == "postgresql" and not self._conn.invalidated:
                self._conn.exec_driver_sql("RESET synchronous_commit")  # the connection goes back to the pool
        finally:
            self._conn.close()


def _one(conn: Connection, lease: Lease, mark: Mark) -> bool:
    statement, params = mark
    with lease.lock:  # the mark and the `held` count change together for the heartbeat
        lease.released()
        changed = conn.execute(statement, params).rowcount
        if changed != 1:
            lease.lost = True
    return changed == 1
