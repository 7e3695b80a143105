"""Column helpers shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Integer
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class TZDateTime(DateTime):
    """Timezone-aware datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def result_processor(self, dialect, coltype):
        parent = super().result_processor(dialect, coltype)

        def process(value):
            if parent is not None:
                value = parent(value)
            if value is not None and value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            return value

        return process


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
