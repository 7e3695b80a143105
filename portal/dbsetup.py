"""Database connection settings that depend on the dialect."""

from __future__ import annotations

import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine

MIN_SQLITE = (3, 35)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """SQLite: WAL so the web process reads while a worker writes; a busy timeout instead of instant
    'database is locked'; foreign keys enforced like on PostgreSQL."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        raise RuntimeError(
            f"SQLite {sqlite3.sqlite_version} is too old: the portal needs {'.'.join(map(str, MIN_SQLITE))} or "
            "newer (RETURNING, MATERIALIZED). Use a newer Python build, or PostgreSQL."
        )
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL survives any application crash (a killed worker loses nothing committed); only
    # an OS crash or power cut can roll back the last transactions. It saves an fsync per commit, which
    # matters when every sent message is confirmed in its own short transaction.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
