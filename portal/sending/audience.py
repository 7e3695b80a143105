"""The final audience of a campaign, computed in SQL by one function whether it is counted, previewed,
materialised or synced to a provider: subscribed to the chosen lists, or matching the chosen segments and
subscribed to at least one list of the client (the consent rule, DESIGN.md §6), minus exclusions, minus
every suppression (client, agency, platform), one row per contact. `still_allowed` re-checks the same
rule for claimed deliveries at hand-over time."""

from __future__ import annotations

from sqlalchemy import and_, exists, func, insert, literal, not_, or_, select, text

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
from ..models.audience import CHANNEL_EMAIL, SUB_SUBSCRIBED
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


def _subscribed(channel: str, list_ids: list[int] | None):
    """The consent half of the rule: a `subscribed` subscription on this channel to one of these lists
    (None: to any list of the client; the Contact's client already scopes the subscription)."""
    conditions = [
        Subscription.contact_id == Contact.id,
        Subscription.client_id == Contact.client_id,
        Subscription.channel == channel,
        Subscription.status == SUB_SUBSCRIBED,
    ]
    if list_ids is not None:
        conditions.append(Subscription.list_id.in_(list_ids))
    return exists().where(*conditions)


def _segments(client: Client, segment_ids: list[int]) -> list:
    rules = db.session.scalars(select(Segment.rules).where(Segment.id.in_(segment_ids)))
    return [segment_condition(client, r) for r in rules]


def _not_suppressed(client: Client, channel: str):
    address = _address_column(channel)
    return and_(
        address.not_in(
            select(Suppression.address).where(
                Suppression.client_id == client.id, Suppression.channel == channel
            )
        ),
        address.not_in(
            select(BlockedAddress.address).where(
                or_(BlockedAddress.agency_id == client.agency_id, BlockedAddress.agency_id.is_(None)),
                BlockedAddress.channel == channel,
            )
        ),
    )


def _address_column(channel: str):
    return Contact.email if channel == CHANNEL_EMAIL else Contact.phone


def consent_lists(audience: dict) -> list[int] | None:
    """The lists whose subscription makes a contact reachable for this audience: the chosen lists, or any
    list of the client (None) as soon as a segment is included. The send-time re-check uses the same."""
    return None if _ids(audience.get("segments")) else _ids(audience.get("lists"))


def audience_condition(client: Client, audience: dict, channel: str = CHANNEL_EMAIL):
    """WHERE clause over Contact for the final audience (raises DomainError for foreign lists/segments).

    The consent rule (DESIGN.md §6) is part of every branch: a list member must be subscribed to that
    list, a segment member to at least one list of the client, on this channel; nobody suppressed at
    client, agency or platform scope. Segment rules alone never make anyone reachable."""
    _check_ownership(client, audience)
    lists, segments = _ids(audience.get("lists")), _ids(audience.get("segments"))
    includes = []
    if lists:
        includes.append(_subscribed(channel, lists))
    matched = _segments(client, segments)
    if matched:
        includes.append(and_(or_(*matched), _subscribed(channel, None)))
    if not includes:
        return literal(False)
    parts = [
        Contact.client_id == client.id,
        _address_column(channel).is_not(None),
        or_(*includes),
        _not_suppressed(client, channel),
    ]
    exclude_lists = _ids(audience.get("exclude_lists"))
    if exclude_lists:
        parts.append(not_(_subscribed(channel, exclude_lists)))
    for condition in _segments(client, _ids(audience.get("exclude_segments"))):
        parts.append(not_(condition))
    return and_(*parts)


def count_audience(client: Client, audience: dict, channel: str = CHANNEL_EMAIL) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Contact).where(audience_condition(client, audience, channel))
    )


def materialise(client: Client, campaign: Campaign) -> int:
    """One Delivery per contact of the final audience, set-based. Contacts are unique per address within a
    client, so one row per contact is one message per address."""
    channel = campaign.channel or CHANNEL_EMAIL
    rows = select(
        literal(client.agency_id),
        literal(client.id),
        literal(campaign.id),
        Contact.id,
        literal(channel),
        _address_column(channel),
        literal("pending"),
        literal(0),
        literal(""),
        literal(""),
    ).where(audience_condition(client, campaign.audience or {}, channel))
    db.session.execute(
        insert(Delivery).from_select(
            [
                "agency_id",
                "client_id",
                "campaign_id",
                "contact_id",
                "channel",
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


def still_allowed(
    client_id: int,
    agency_id: int,
    channel: str,
    lists: list[int] | None,
    deliveries: list[tuple[int, int, str]],
) -> set[int]:
    """Of these claimed deliveries (delivery id, contact id, address, as the claim read them), the ones
    that may still go out now: the consent rule again at hand-over time (a subscription on the channel to
    one of `lists`, None = any list of the client; see consent_lists) and no suppression at any scope.

    The rows come in as a VALUES list rather than being read back from `delivery`: the plan is a hundred
    index probes whatever the statistics say (a delivery table materialised a moment ago has none, and a
    scan of it per batch grows with the campaign)."""
    if not deliveries or (lists is not None and not lists):
        return set()
    params: dict[str, object] = {}
    rows = []
    for i, (delivery_id, contact_id, address) in enumerate(deliveries):
        params[f"d{i}"], params[f"c{i}"], params[f"a{i}"] = int(delivery_id), int(contact_id), address
        rows.append(f"(:d{i}, :c{i}, :a{i})")
    in_lists = f"AND s.list_id IN ({', '.join(str(int(x)) for x in lists)}) " if lists is not None else ""
    allowed = db.session.execute(
        text(
            f"WITH b (id, contact_id, address) AS (VALUES {', '.join(rows)}) "
            "SELECT b.id FROM b WHERE NOT EXISTS (SELECT 1 FROM suppression x WHERE x.client_id = :cl "
            "AND x.channel = :ch AND x.address = b.address) "
            "AND NOT EXISTS (SELECT 1 FROM blocked_address x WHERE coalesce(x.agency_id, 0) IN (:ag, 0) "
            "AND x.channel = :ch AND x.address = b.address) "
            "AND EXISTS (SELECT 1 FROM subscription s WHERE s.contact_id = b.contact_id AND s.client_id = :cl "
            f"{in_lists}AND s.channel = :ch AND s.status = 'subscribed')"
        ),
        {"cl": client_id, "ag": agency_id, "ch": channel, **params},
    ).scalars()
    return set(allowed)
