"""Column helpers shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Integer, TypeDecorator
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class TZDateTime(TypeDecorator):
    """Timezone-aware datetimes on both SQLite (which drops tzinfo) and PostgreSQL.

    A TypeDecorator, not a DateTime subclass: dialects adapt plain DateTime subclasses to their own type,
    which skipped the tz re-attachment on SQLite and returned naive values."""

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class AgencyColumn:
    """Adds the indexed, non-null tenant column `agency_id`."""

    @declared_attr
    def agency_id(cls) -> Mapped[int]:
        return mapped_column(Integer, ForeignKey("agency.id", ondelete="CASCADE"), nullable=False, index=True)


class ClientColumn:
    """Adds the indexed tenant column `client_id` (non-null unless the model overrides it)."""

    @declared_attr
    def client_id(cls) -> Mapped[int]:
        return mapped_column(Integer, ForeignKey("client.id", ondelete="CASCADE"), nullable=False, index=True)
