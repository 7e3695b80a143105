"""A client bound to a provider-side connection (DESIGN.md §5: "bound connection per channel + list id and
field mapping"): the provider's list that holds the client's recipients, how the portal's custom fields
(Field.number 1..39) map to the provider's personal fields, and the state of the pull-back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..tenancy import ClientScoped
from .base import AgencyColumn, ClientColumn, TZDateTime, utcnow


class ProviderBinding(AgencyColumn, ClientColumn, ClientScoped, db.Model):
    __tablename__ = "provider_binding"
    __table_args__ = (UniqueConstraint("client_id", "connection_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connection.id", ondelete="CASCADE"), index=True)
    list_id: Mapped[int] = mapped_column(Integer)
    list_guid: Mapped[str] = mapped_column(String(64), default="")
    # {"fields": {"<Field.number>": {"id": <personal field id>, "name": <its name>}},
    #  "links": {"unsubscribe_url" | "preferences_url" | "view_url": {"id": …, "name": …}}}
    field_map: Mapped[dict] = mapped_column(JSON, default=dict)
    # The secret part of the callback URL the provider calls (unsubscribes, profile updates).
    webhook_token: Mapped[str] = mapped_column(String(64), unique=True)
    last_pull_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
