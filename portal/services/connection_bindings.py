"""Which connection each client sends through, as people choose it: the agency's default per channel (the
platform operator, in the back-office) and each client's own binding per channel (the agency). Both pick
among the agency's connections whose kind can carry the channel (`CHANNEL_KINDS`). What is stored here is
read by `connections.resolve_connection`, the one place that decides; `client_routes` shows the same
answer to people.

Audit rows land in the agency's own activity log and CSV export, so they carry the labels agencies see
(`agency_label`) and neutral kinds (`AUDIT_KIND`), never the provider's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..extensions import db
from ..models import Agency, Campaign, Client, Connection, User
from ..models.campaign import CAMPAIGN_SENDING
from . import NotFound
from .audit import record
from .connections import (
    AUDIT_KIND,
    BINDING_COLUMN,
    CHANNEL_KINDS,
    DEFAULT_COLUMN,
    FieldError,
    agency_label,
    channel_label,
    effective_connection_id,
)
from .i18n_safe import _

CHANNELS = tuple(CHANNEL_KINDS)
# What an unset choice means, in audit rows (stored once, read in any language: kept as plain tokens).
AUDIT_AGENCY_DEFAULT = "agency default"
AUDIT_PLATFORM = {"email": "platform relay", "sms": "none"}


def usable_connections(agency_id: int, channel: str) -> list[Connection]:
    """The connections the platform lets this agency use on one channel: its own, of a kind that carries it."""
    return list(
        db.session.scalars(
            select(Connection)
            .where(Connection.agency_id == agency_id, Connection.kind.in_(CHANNEL_KINDS[channel]))
            .order_by(Connection.name, Connection.id)
        )
    )


def _usable(agency_id: int, channel: str, connection_id: int | None) -> Connection | None:
    """The chosen connection, checked: it belongs to the agency and can carry the channel. None stays None."""
    if connection_id is None:
        return None
    connection = db.session.scalar(
        select(Connection).where(Connection.id == connection_id, Connection.agency_id == agency_id)
    )
    if connection is None:
        raise NotFound("connection")
    if connection.kind not in CHANNEL_KINDS[channel]:
        raise FieldError(
            channel,
            _(
                "%(name)s cannot send %(channel)s messages.",
                name=agency_label(connection),
                channel=channel_label(channel),
            ),
        )
    return connection


def _audit_name(agency_id: int, connection_id: int | None, unset: str) -> str:
    if connection_id is None:
        return unset
    connection = db.session.scalar(
        select(Connection).where(Connection.id == connection_id, Connection.agency_id == agency_id)
    )
    return agency_label(connection) if connection is not None else unset


def _audit_kind(connection: Connection | None, unset: str) -> str:
    return AUDIT_KIND[connection.kind] if connection is not None else unset


def set_agency_defaults(*, actor: User, agency: Agency, connection_ids: dict[str, int | None]) -> list[str]:
    """The operator's choice of the agency's default connection per channel (None: the platform's relay for
    email, no connection for SMS). Returns the channels that changed; each change is one audit row.
    Sends already running keep the connection they started on (Campaign.connection_id)."""
    chosen = {channel: _usable(agency.id, channel, connection_ids[channel]) for channel in connection_ids}
    changed = []
    for channel, connection in chosen.items():
        column = DEFAULT_COLUMN[channel]
        new_id, old_id = (connection.id if connection else None), getattr(agency, column)
        if new_id == old_id:
            continue
        unset = AUDIT_PLATFORM[channel]
        previous = _audit_name(agency.id, old_id, unset)
        setattr(agency, column, new_id)
        record(
            "connection.default_changed",
            actor=actor,
            agency_id=agency.id,
            target=f"{channel}: {agency_label(connection) if connection else unset}",
            channel=channel,
            kind=_audit_kind(connection, unset),
            previous=previous,
        )
        changed.append(channel)
    db.session.flush()
    return changed


def _refuse_while_sending(client: Client, channel: str) -> None:
    campaign = db.session.scalar(
        select(Campaign.name)
        .where(
            Campaign.agency_id == client.agency_id,
            Campaign.client_id == client.id,
            Campaign.channel == channel,
            Campaign.status == CAMPAIGN_SENDING,
        )
        .order_by(Campaign.id)
        .limit(1)
    )
    if campaign is not None:
        raise FieldError(
            channel,
            _(
                "The %(channel)s connection of %(client)s cannot change while its campaign “%(campaign)s” "
                "is sending: a running send stays on the connection it started on. Change it once the "
                "send has finished.",
                channel=channel_label(channel),
                client=client.name,
                campaign=campaign,
            ),
        )


def bind_client(*, actor: User, client: Client, connection_ids: dict[str, int | None]) -> list[str]:
    """The agency's choice of the connection a client sends through, per channel (None: the agency's
    default). Refused for a channel on which the client has a campaign sending. Returns the channels that
    changed; each change is one audit row in the agency's activity log."""
    chosen = {
        channel: _usable(client.agency_id, channel, connection_ids[channel]) for channel in connection_ids
    }
    changes = []
    for channel, connection in chosen.items():
        new_id = connection.id if connection else None
        if new_id != getattr(client, BINDING_COLUMN[channel]):
            _refuse_while_sending(client, channel)
            changes.append((channel, connection, new_id))
    for channel, connection, new_id in changes:
        column = BINDING_COLUMN[channel]
        previous = _audit_name(client.agency_id, getattr(client, column), AUDIT_AGENCY_DEFAULT)
        setattr(client, column, new_id)
        record(
            "client.connection_changed",
            actor=actor,
            agency_id=client.agency_id,
            client_id=client.id,
            target=f"{channel}: {agency_label(connection) if connection else AUDIT_AGENCY_DEFAULT}",
            channel=channel,
            kind=_audit_kind(connection, AUDIT_AGENCY_DEFAULT),
            previous=previous,
        )
    db.session.flush()
    return [channel for channel, _connection, _id in changes]


@dataclass(frozen=True)
class Route:
    """What one client sends through on one channel, for people to read (sending asks resolve_connection)."""

    channel: str
    connection: Connection | None
    inherited: bool  # not bound itself: the agency's default (or the platform's relay) applies

    @property
    def label(self) -> str:
        """The name an agency sees for it (the operator's label, never the provider or the kind)."""
        if self.connection is not None:
            return agency_label(self.connection)
        return no_connection_label(self.channel)


def no_connection_label(channel: str) -> str:
    """What no connection means on a channel: the platform's relay for email; SMS cannot be sent."""
    return _("Platform relay") if channel == "email" else _("No SMS connection")


def client_routes(agency: Agency, clients: list[Client]) -> dict[int, dict[str, Route]]:
    """Per client and channel, the connection it uses and whether it is inherited: one query for a page."""
    connections = {
        c.id: c for c in db.session.scalars(select(Connection).where(Connection.agency_id == agency.id))
    }
    routes: dict[int, dict[str, Route]] = {}
    for client in clients:
        routes[client.id] = {}
        for channel in CHANNELS:
            connection_id, inherited = effective_connection_id(client, agency, channel)
            routes[client.id][channel] = Route(channel, connections.get(connection_id), inherited)
    return routes


def agency_defaults(agency: Agency) -> dict[str, Route]:
    """The agency's default per channel, as the routes of a client bound to nothing."""
    connections = {
        c.id: c for c in db.session.scalars(select(Connection).where(Connection.agency_id == agency.id))
    }
    return {
        channel: Route(channel, connections.get(getattr(agency, DEFAULT_COLUMN[channel])), True)
        for channel in CHANNELS
    }
