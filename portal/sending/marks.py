"""A claim's marks, written on a connection of their own, one at a time.

A message's "sent" mark must commit before the next message becomes irrevocable, but it need not hold
up the next message's envelope: the backend lane that got a message accepted writes its mark at once,
while the next message's MAIL, RCPT and DATA travel on another lane, and that message's content waits
for the mark (sending/batches.py). The database round trip overlaps the relay's instead of following it,
and still at most one accepted message is ever unmarked.

The marks of a claim are written by whichever thread has the answer (a lane for an accepted message, the
loop for a refusal), one at a time under a lock, each as one autocommit statement; on PostgreSQL without
waiting for the commit record's flush: a worker crash loses nothing committed, only a database server
crash could lose the last few marks (those messages would then be sent again).
"""

from __future__ import annotations

import threading

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import TextClause

from .lease import Lease

Mark = tuple[TextClause, dict]  # a conditional UPDATE of one claimed row, and its parameters


class Marks:
    def __init__(self, engine: Engine):
        self._engine = engine
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> Marks:
        conn = self._engine.connect()
        conn.execution_options(isolation_level="AUTOCOMMIT")
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET synchronous_commit TO OFF")
        self._conn = conn
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self._conn.dialect.name == "postgresql" and not self._conn.invalidated:
                self._conn.exec_driver_sql("RESET synchronous_commit")  # the connection goes back to the pool
        finally:
            self._conn.close()

    def write(self, lease: Lease, mark: Mark) -> bool:
        """Write the mark; False when the row was no longer this claim's (the lease was lost)."""
        statement, params = mark
        with self._lock, lease.lock:  # the mark and the `held` count change together for the heartbeat
            lease.released()
            changed = self._conn.execute(statement, params).rowcount
            if changed != 1:
                lease.lost = True
        return changed == 1
