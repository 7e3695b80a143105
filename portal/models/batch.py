"""Nightly file exchange: a client's FTP/FTPS/SFTP batch sources, each run of one, and each file a run saw.

Credentials are a Fernet token (portal.crypto), like a Connection's secrets. `server_key` pins what the
server proved itself with: the SSH host key for SFTP, the SHA-256 of the TLS certificate for FTPS.
A `BatchFile` row is also the memory that stops a file (same name and checksum) being processed twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..tenancy import ClientScoped
from .base import AgencyColumn, ClientColumn, TZDateTime, utcnow

PROTOCOL_FTP = "ftp"
PROTOCOL_FTPS = "ftps"
PROTOCOL_SFTP = "sftp"
PROTOCOLS = (PROTOCOL_FTP, PROTOCOL_FTPS, PROTOCOL_SFTP)
DEFAULT_PORTS = {PROTOCOL_FTP: 21, PROTOCOL_FTPS: 21, PROTOCOL_SFTP: 22}

SCHEDULE_NIGHTLY = "nightly"  # once a day at run_at, in the client's time zone
SCHEDULE_HOURLY = "hourly"
SCHEDULE_MANUAL = "manual"  # only "Run now"
SCHEDULES = (SCHEDULE_NIGHTLY, SCHEDULE_HOURLY, SCHEDULE_MANUAL)

RUN_QUEUED = "queued"
RUN_RUNNING = "running"
RUN_DONE = "done"  # every file it found was processed (or there was none)
RUN_PARTIAL = "partial"  # some files failed, others were processed
RUN_FAILED = "failed"  # the server could not be used, or every file failed
RUN_FINAL = (RUN_DONE, RUN_PARTIAL, RUN_FAILED)

FILE_DONE = "done"
FILE_FAILED = "failed"  # a bad package or a refused action: moved to failed/, never retried
FILE_SKIPPED = "skipped"  # same name and checksum as a file already processed
FILE_RETRY = "retry"  # not processed this time (connection lost, busy account): stays for the next run


class BatchSource(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    __tablename__ = "batch_source"
    __table_args__ = (UniqueConstraint("client_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    protocol: Mapped[str] = mapped_column(String(8))
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(120))
    secrets_encrypted: Mapped[str] = mapped_column(Text, default="")  # {"password": ...}
    server_key: Mapped[str] = mapped_column(Text, default="")  # pinned host key / certificate digest
    remote_dir: Mapped[str] = mapped_column(String(255), default="/")
    list_id: Mapped[int | None] = mapped_column(
        ForeignKey("mailing_list.id", ondelete="SET NULL"), nullable=True
    )
    options: Mapped[dict] = mapped_column(JSON, default=dict)  # status, update_existing, allow_send…
    schedule: Mapped[str] = mapped_column(String(16), default=SCHEDULE_NIGHTLY)
    run_at: Mapped[str] = mapped_column(String(5), default="02:00")  # HH:MM, client's time zone
    next_run_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True, index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_admins: Mapped[bool] = mapped_column(Boolean, default=False)  # email summary after a run
    # A run holds the source until then, so two runs never read the same folder at once.
    lock_until: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, onupdate=utcnow)


class BatchRun(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    __tablename__ = "batch_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("batch_source.id", ondelete="CASCADE"), index=True)
    trigger: Mapped[str] = mapped_column(String(16), default="schedule")  # schedule / manual
    state: Mapped[str] = mapped_column(String(16), default=RUN_QUEUED)
    job_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("job_run.id", ondelete="SET NULL"), nullable=True
    )
    files_seen: Mapped[int] = mapped_column(Integer, default=0)
    files_done: Mapped[int] = mapped_column(Integer, default=0)
    files_failed: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)


class BatchFile(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    __tablename__ = "batch_file"
    __table_args__ = (Index("ix_batch_file_source_id_name_sha256", "source_id", "name", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("batch_source.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(ForeignKey("batch_run.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), default="")  # empty when the download did not finish
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16), default="")  # csv / zip / package
    action: Mapped[str] = mapped_column(String(8), default="")  # a package's ActionType
    status: Mapped[str] = mapped_column(String(16))
    import_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_import.id", ondelete="SET NULL"), nullable=True
    )
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign.id", ondelete="SET NULL"), nullable=True
    )
    message: Mapped[str] = mapped_column(Text, default="")
    problems: Mapped[list] = mapped_column(JSON, default=list)  # [{"where": ..., "what": ...}]
    moved_to: Mapped[str] = mapped_column(String(255), default="")  # "processed/<name>", or "" (left)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
