"""A row mirroring one RQ job, so the UI can show progress without asking Redis."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..tenancy import ClientScoped
from .base import AgencyColumn, TZDateTime, utcnow

STATE_QUEUED = "queued"
STATE_RUNNING = "running"
STATE_DONE = "done"
STATE_FAILED = "failed"
STATE_CANCELLED = "cancelled"
FINAL_STATES = (STATE_DONE, STATE_FAILED, STATE_CANCELLED)


class JobRun(AgencyColumn, ClientScoped, db.Model):
    """client_id is NULL for agency-level jobs; inside a client context those are hidden."""

    __tablename__ = "job_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("client.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    rq_job_id: Mapped[str] = mapped_column(String(64), unique=True)
    queue: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=STATE_QUEUED)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    result_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The result's file under <storage>/results (jobs/results.py), a name the portal chose.
    result_path: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    # Downloads (exports, error reports) stop working after this moment.
    expires_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES
