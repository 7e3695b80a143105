"""Contact imports: the uploaded file, the chosen mapping and options, the outcome with per-row errors."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..tenancy import ClientScoped
from .base import AgencyColumn, ClientColumn, TZDateTime, utcnow

IMPORT_UPLOADED = "uploaded"  # file stored, waiting for the mapping
IMPORT_QUEUED = "queued"
IMPORT_RUNNING = "running"
IMPORT_DONE = "done"
IMPORT_FAILED = "failed"
IMPORT_CANCELLED = "cancelled"
IMPORT_ACTIVE = (IMPORT_QUEUED, IMPORT_RUNNING)


class ContactImport(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    __tablename__ = "contact_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=IMPORT_UPLOADED, index=True)
    source_name: Mapped[str] = mapped_column(String(255))  # what the user uploaded (display only)
    stored_name: Mapped[str] = mapped_column(String(64))  # server-chosen file name in the client's folder
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    encoding: Mapped[str] = mapped_column(String(16), default="utf-8")
    delimiter: Mapped[str] = mapped_column(String(1), default=",")
    has_header: Mapped[bool] = mapped_column(default=True)
    columns: Mapped[list] = mapped_column(JSON, default=list)  # header (or "Column N") of the first file
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)  # column index (str) -> target
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    job_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("job_run.id", ondelete="SET NULL"), nullable=True
    )
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    unchanged_count: Mapped[int] = mapped_column(Integer, default=0)
    invalid_count: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_count: Mapped[int] = mapped_column(Integer, default=0)
    suppressed_count: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[list] = mapped_column(JSON, default=list)  # skipped archive members and similar
    errors_csv: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    # A running import renews its lease while it works; the sweeper fails one whose lease ran out.
    lease_until: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
