"""Adopting a client's existing account at a provider-side connection (issue 13): the adoption itself (what
was chosen, the preview, where the reading stopped, what came out), and the recipients read so far.

Reading is resumable: every page of recipients is written to `adoption_record` together with the cursor
in one commit, so a killed worker resumes at the page it had reached and a page read twice upserts the
same rows. Only then are the records applied to contacts, subscriptions and suppression, in one
transaction, set-based (portal/adoption/apply.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..tenancy import ClientScoped
from .base import AgencyColumn, ClientColumn, TZDateTime, utcnow

ADOPTION_QUEUED = "queued"
ADOPTION_READING = "reading"
ADOPTION_APPLYING = "applying"
ADOPTION_DONE = "done"
ADOPTION_FAILED = "failed"
ADOPTION_LIVE = (ADOPTION_QUEUED, ADOPTION_READING, ADOPTION_APPLYING)


class Adoption(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    __tablename__ = "adoption"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connection.id", ondelete="CASCADE"), index=True)
    job_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("job_run.id", ondelete="SET NULL"), nullable=True
    )
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )
    state: Mapped[str] = mapped_column(String(16), default=ADOPTION_QUEUED)
    # {"lists": [remote ids], "targets": {"<remote list>": portal list id | null}, "groups_as": ..., "page_size"}
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    preview: Mapped[dict] = mapped_column(JSON, default=dict)  # what the user confirmed
    cursor: Mapped[dict] = mapped_column(JSON, default=dict)  # {"step": i, "page": n}
    stats: Mapped[dict] = mapped_column(JSON, default=dict)  # records read, field values seen (types)
    result: Mapped[dict] = mapped_column(JSON, default=dict)  # counts and the maps it created
    error: Mapped[str] = mapped_column(Text, default="")
    # A worker holding the adoption renews this with every page; past it the sweeper queues it again.
    lease_until: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)


class AdoptionRecord(ClientScoped, db.Model):
    """One recipient of one list on one channel, as the provider gave it (addresses already normalised,
    field values by personal-field id). The tenant columns carry no foreign key or index of their own:
    rows are only ever read through their adoption, which is the tenant's (see Contact for the same)."""

    __tablename__ = "adoption_record"
    __table_args__ = (UniqueConstraint("adoption_id", "remote_list_id", "channel", "remote_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(Integer, nullable=False)
    client_id: Mapped[int] = mapped_column(Integer, nullable=False)
    adoption_id: Mapped[int] = mapped_column(ForeignKey("adoption.id", ondelete="CASCADE"))
    remote_list_id: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(8))
    remote_id: Mapped[int] = mapped_column(Integer)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    fields: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON {"<personal field id>": "value"}
    status: Mapped[str] = mapped_column(String(16), default="")  # subscribed / unsubscribed / pending
    consent_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    consent_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    optout_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    optout_type: Mapped[int | None] = mapped_column(Integer, nullable=True)
    optout_subtype: Mapped[int | None] = mapped_column(Integer, nullable=True)
    problem: Mapped[str | None] = mapped_column(Text, nullable=True)  # why it cannot be imported


class AdoptionMember(ClientScoped, db.Model):
    """A recipient's membership of a group of an adopted list."""

    __tablename__ = "adoption_member"
    __table_args__ = (UniqueConstraint("adoption_id", "group_id", "remote_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(Integer, nullable=False)
    client_id: Mapped[int] = mapped_column(Integer, nullable=False)
    adoption_id: Mapped[int] = mapped_column(ForeignKey("adoption.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(Integer)
    remote_id: Mapped[int] = mapped_column(Integer)
