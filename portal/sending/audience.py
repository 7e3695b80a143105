"""The final audience of a campaign, computed in SQL: subscribed to the chosen lists or matching the chosen
segments, minus exclusions, minus every suppression (client, agency, platform), one row per contact."""

from __future__ import annotations

from sqlalchemy import and_, exists, func, insert, literal, not_, or_, select

from ..extensions import db
from ..models import (
    BlockedAddress,
    Campaign,
    Client,
    Contact,
    Delivery,
    MailingList,
    Segment,
    Subscription,
    Suppression,
)
from ..services import DomainError
from ..services.segments import segment_condition


def _ids(values) -> list[int]:
    return [int(v) for v in (values or []) if str(v).isdigit()]


def _check_ownership(client: Client, audience: dict) -> None:
    """Lists and segments named in the audience must be this client's (the tenant filter scopes the query)."""
    for key, model in (
        ("lists", MailingList),
        ("exclude_lists", MailingList),
        ("segments", Segment),
        ("exclude_segments", Segment),
    ):
        wanted = set(_ids(audience.get(key)))
        if wanted:
            found = set(
                db.session.scalars(select(model.id).where(model.id.in_(wanted), model.client_id == client.id))
            )
            if found != wanted:
                raise DomainError("The audience names a list or segment that does not exist.")


def _in_lists(list_ids: list[int]):
    return exists().where(
        Subscription.contact_id == Contact.id,
        Subscription.list_id.in_(list_ids),
        Subscription.channel == "email",
        Subscription.status == "subscribed",
    )


def _segments(client: Client, segment_ids: list[int]) -> list:
    rules = db.session.scalars(select(Segment.rules).where(Segment.id.in_(segment_ids)))
    return [segment_condition(client, r) for r in rules]


def _not_suppressed(client: Client):
    return and_(
        Contact.email.not_in(
            select(Suppression.address).where(
                Suppression.client_id == client.id, Suppression.channel == "email"
            )
        ),
        Contact.email.not_in(
            select(BlockedAddress.address).where(
                or_(BlockedAddress.agency_id == client.agency_id, BlockedAddress.agency_id.is_(None)),
                BlockedAddress.channel == "email",
            )
        ),
    )


def audience_condition(client: Client, audience: dict):
    """WHERE clause over Contact for the final audience (raises DomainError for foreign lists/segments)."""
    _check_ownership(client, audience)
    lists, segments = _ids(audience.get("lists")), _ids(audience.get("segments"))
    includes = []
    if lists:
        includes.append(_in_lists(lists))
    includes += _segments(client, segments)
    if not includes:
        return literal(False)
    parts = [
        Contact.client_id == client.id,
        Contact.email.is_not(None),
        or_(*includes),
        _not_suppressed(client),
    ]
    exclude_lists = _ids(audience.get("exclude_lists"))
    if exclude_lists:
        parts.append(not_(_in_lists(exclude_lists)))
    for condition in _segments(client, _ids(audience.get("exclude_segments"))):
        parts.append(not_(condition))
    return and_(*parts)


def count_audience(client: Client, audience: dict) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Contact).where(audience_condition(client, audience))
    )


def materialise(client: Client, campaign: Campaign) -> int:
    """One Delivery per contact of the final audience, set-based. Contacts are unique per address within a
    client, so one row per contact is one message per address."""
    rows = select(
        literal(client.agency_id),
        literal(client.id),
        literal(campaign.id),
        Contact.id,
        Contact.email,
        literal("pending"),
        literal(0),
        literal(""),
        literal(""),
    ).where(audience_condition(client, campaign.audience or {}))
    db.session.execute(
        insert(Delivery).from_select(
            [
                "agency_id",
                "client_id",
                "campaign_id",
                "contact_id",
                "address",
                "status",
                "attempts",
                "provider_message_id",
                "error",
            ],
            rows,
        )
    )
    # Not the INSERT's rowcount: through the ORM session it is -1 on PostgreSQL (psycopg). The campaign
    # had no deliveries before (start_send moves it to "sending" exactly once), so counting is exact.
    return db.session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.campaign_id == campaign.id)
    )
