"""Job results (CSV exports) as files in the storage directory, never as rows in the database.

A million-contact export is about 100 MB of CSV: it is streamed to a file as it is written (the worker's
memory stays flat), served from that file (the web process streams it too), and deleted once its link
expires. The JobRun row keeps only the file's name, which the portal chose itself.
"""

from __future__ import annotations

import csv
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import JobRun
from ..tenancy import all_tenants
from .progress import RESULT_TTL


def results_dir() -> Path:
    return current_app.config["PORTAL_SETTINGS"].storage_dir / "results"


class ResultFile:
    """A CSV result being written. `writer` is a csv.writer; finish with close() (→ the stored name for
    Progress.finish) or discard() when the job fails."""

    def __init__(self, run_id: int, **csv_options) -> None:
        root = results_dir()
        root.mkdir(parents=True, exist_ok=True)
        self.name = f"run-{run_id}-{secrets.token_hex(8)}.csv"
        self.path = root / self.name
        # BOM: spreadsheets then read UTF-8 correctly. RFC 4180 line ends.
        self._fh = self.path.open("w", encoding="utf-8-sig", newline="")
        self.writer = csv.writer(self._fh, lineterminator="\r\n", **csv_options)

    def close(self) -> str:
        self._fh.close()
        return self.name

    def discard(self) -> None:
        self._fh.close()
        self.path.unlink(missing_ok=True)


def _file(name: str) -> Path:
    return results_dir() / Path(name).name  # only ever a bare name the portal chose


def result_path(run: JobRun) -> Path | None:
    """The file of a finished run's result, if it is still there."""
    if not run.result_path:
        return None
    path = _file(run.result_path)
    return path if path.is_file() else None


def remove_expired_results(now: datetime | None = None) -> int:
    """Delete the files of results whose download link has expired; returns how many. Also files no run
    points to that are older than any link could be (a worker killed in the middle of an export)."""
    now = now or datetime.now(UTC)
    removed = 0
    with all_tenants():
        runs = db.session.scalars(
            select(JobRun).where(JobRun.result_path.is_not(None), JobRun.expires_at < now)
        ).all()
        for run in runs:
            _file(run.result_path).unlink(missing_ok=True)
            run.result_path = None
            removed += 1
        db.session.commit()
        root = results_dir()
        if root.is_dir():
            kept = set(db.session.scalars(select(JobRun.result_path).where(JobRun.result_path.is_not(None))))
            too_old = (now - RESULT_TTL - timedelta(days=1)).timestamp()
            for path in root.glob("run-*.csv"):
                if path.name not in kept and path.stat().st_mtime < too_old:
                    path.unlink(missing_ok=True)
                    removed += 1
    return removed
