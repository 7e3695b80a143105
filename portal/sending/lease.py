"""The lease on a claimed batch, renewed while a worker holds it.

A claim is a promise: "these rows are mine until lease_until". The sweeper gives rows whose lease ran
out back to pending, so a worker that outlives its lease (a slow relay, a long batch) would race another
worker for the same rows. A heartbeat thread renews the lease every third of its length on its own
connection; the loop asks `may_send()` before every hand-over and stops when the lease was lost (the
renewal found fewer rows than the worker still holds), when its last renewal is too old (the heartbeat
could not reach the database), or when the campaign stopped being 'sending' (paused, cancelled: looked
at every STATUS_S, so a claim of any length stops within seconds).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import text

from ..extensions import db
from ..models.campaign import CAMPAIGN_SENDING

_RENEW = text(
    "UPDATE delivery SET lease_until = :until WHERE claim_token = :tok AND status = 'claimed' "
    "AND client_id = :cl"
)
_STATUS = text("SELECT status FROM campaign WHERE id = :cid AND client_id = :cl")
STATUS_S = 2.0  # how often a sending worker looks for a pause or cancel


class Lease:
    def __init__(self, token: str, campaign_id: int, client_id: int, rows: int, seconds: int):
        self.token, self.campaign_id, self.client_id = token, campaign_id, client_id
        self.seconds = max(int(seconds), 1)
        self.held = rows  # rows still claimed by this worker and not yet marked
        self.lost = False
        self.halted = ""  # the campaign's new status when it stopped being 'sending'
        self.lock = threading.Lock()  # a mark and its `held` decrement are one step for the heartbeat
        self._valid_until = time.monotonic() + self.seconds
        self._stop = threading.Event()
        self._app = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Lease:
        self._app = current_app._get_current_object()
        self._thread = threading.Thread(target=self._beat, name="portal-lease", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.seconds)

    def released(self, n: int = 1) -> None:
        """`n` rows left the claim (marked or released); call with `lock` held, before the statement."""
        self.held -= n

    def may_send(self) -> bool:
        """True while the rows are certainly ours for at least a third of the lease."""
        if self.lost or self.halted:
            return False
        return time.monotonic() < self._valid_until - self.seconds / 3

    def _beat(self) -> None:
        """Renew every third of the lease; look at the campaign's status every STATUS_S in between, so a
        pause or cancel stops the loop within seconds whatever the lease's length."""
        every = min(self.seconds / 3, STATUS_S)
        renewed = time.monotonic()
        with self._app.app_context():
            while not self._stop.wait(every):
                try:
                    if time.monotonic() - renewed >= self.seconds / 3 - every / 2:
                        self._renew()
                        renewed = time.monotonic()
                    self._check_status()
                except Exception:  # noqa: BLE001 — a database hiccup: may_send() expires on its own
                    self._app.logger.warning("lease renewal of claim %s failed", self.token, exc_info=True)

    def _renew(self) -> None:
        started = time.monotonic()
        until = datetime.now(UTC) + timedelta(seconds=self.seconds)
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            with self.lock:
                renewed = conn.execute(
                    _RENEW, {"until": until, "tok": self.token, "cl": self.client_id}
                ).rowcount
                if renewed < self.held:
                    self.lost = True  # the sweeper took rows back: someone else may send them now
                    return
            self._valid_until = started + self.seconds

    def _check_status(self) -> None:
        with db.engine.connect() as conn:
            status = conn.execute(_STATUS, {"cid": self.campaign_id, "cl": self.client_id}).scalar()
        if status != CAMPAIGN_SENDING:
            self.halted = status or "deleted"
