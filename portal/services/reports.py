"""Campaign statistics, computed in SQL from Delivery and Event (conditional aggregates, GROUP BY).

Definitions (one place, so the index, the report, the CSV and the agency view agree):
- sent: deliveries the relay accepted (status "sent").
- bounced: distinct deliveries with at least one bounce event (hard, soft or policy).
- delivered: distinct deliveries with a "delivered" event when the provider reports them for this
  campaign; otherwise sent minus bounced.
- unique opens / clicks: distinct deliveries with at least one open / click; totals count every event.
- rates over delivered: open, click-through (unique clicks), unsubscribe, complaint; bounce rate over sent;
  click-to-open over unique opens. A rate with a zero denominator is 0.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Integer, and_, case, cast, distinct, func, literal, select

from ..extensions import db
from ..models import Campaign, Client, Delivery, Event
from ..models.campaign import DELIVERY_SENT
from . import NotFound

HOURLY_WINDOW = 48  # hours after the start shown hour by hour
DAILY_WINDOW = 90  # days after the start shown day by day (at most)


def rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


@dataclass
class Stats:
    sent: int = 0
    bounced: int = 0
    hard_bounces: int = 0
    soft_bounces: int = 0
    policy_bounces: int = 0
    delivered_events: int = 0
    unique_opens: int = 0
    total_opens: int = 0
    unique_clicks: int = 0
    total_clicks: int = 0
    unsubscribes: int = 0
    complaints: int = 0

    @property
    def delivered(self) -> int:
        return self.delivered_events if self.delivered_events else max(self.sent - self.bounced, 0)

    @property
    def delivery_rate(self) -> float:
        return rate(self.delivered, self.sent)

    @property
    def bounce_rate(self) -> float:
        return rate(self.bounced, self.sent)

    @property
    def open_rate(self) -> float:
        return rate(self.unique_opens, self.delivered)

    @property
    def click_rate(self) -> float:
        """Click-through rate: recipients who clicked, over delivered."""
        return rate(self.unique_clicks, self.delivered)

    @property
    def click_to_open(self) -> float:
        return rate(self.unique_clicks, self.unique_opens)

    @property
    def unsubscribe_rate(self) -> float:
        return rate(self.unsubscribes, self.delivered)

    @property
    def complaint_rate(self) -> float:
        return rate(self.complaints, self.delivered)


def _distinct_where(condition):
    return func.count(distinct(case((condition, Event.delivery_id))))


def _count_where(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _event_columns():
    """Per-group aggregates of Event rows; the labels are Stats field names."""
    bounce = Event.kind == "bounce"
    return [
        _distinct_where(bounce).label("bounced"),
        _distinct_where(and_(bounce, Event.bounce_class == "hard")).label("hard_bounces"),
        _distinct_where(and_(bounce, Event.bounce_class == "soft")).label("soft_bounces"),
        _distinct_where(and_(bounce, Event.bounce_class == "policy")).label("policy_bounces"),
        _distinct_where(Event.kind == "delivered").label("delivered_events"),
        _distinct_where(Event.kind == "open").label("unique_opens"),
        _count_where(Event.kind == "open").label("total_opens"),
        _distinct_where(Event.kind == "click").label("unique_clicks"),
        _count_where(Event.kind == "click").label("total_clicks"),
        _distinct_where(Event.kind == "unsubscribe").label("unsubscribes"),
        _distinct_where(Event.kind == "complaint").label("complaints"),
    ]


def campaign_stats(client: Client, campaign_ids: list[int]) -> dict[int, Stats]:
    """Stats of several campaigns in two grouped queries (deliveries, events)."""
    out = {cid: Stats() for cid in campaign_ids}
    if not campaign_ids:
        return out
    sent = db.session.execute(
        select(Delivery.campaign_id, func.count())
        .where(
            Delivery.client_id == client.id,
            Delivery.campaign_id.in_(campaign_ids),
            Delivery.status == DELIVERY_SENT,
        )
        .group_by(Delivery.campaign_id)
    )
    for cid, n in sent:
        out[cid].sent = n
    rows = db.session.execute(
        select(Event.campaign_id, *_event_columns())
        .where(Event.client_id == client.id, Event.campaign_id.in_(campaign_ids))
        .group_by(Event.campaign_id)
    ).mappings()
    names = [f.name for f in fields(Stats) if f.name != "sent"]
    for row in rows:
        stats = out[row["campaign_id"]]
        for name in names:
            setattr(stats, name, int(row[name] or 0))
    return out


def get_campaign(campaign_id: int) -> Campaign:
    """A campaign of the bound client that has started sending (drafts have no report)."""
    campaign = db.session.scalar(select(Campaign).where(Campaign.id == campaign_id))
    if campaign is None or campaign.started_at is None:
        raise NotFound()
    return campaign


def reported_campaigns(page: int, per_page: int = 20):
    """The bound client's campaigns that have started, newest first (Flask-SQLAlchemy pagination)."""
    query = (
        select(Campaign)
        .where(Campaign.started_at.is_not(None))
        .order_by(Campaign.started_at.desc(), Campaign.id.desc())
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


# --- over time ------------------------------------------------------------------------------------


def _bucket(unit: str):
    """The UTC hour ("YYYY-MM-DD HH") or day ("YYYY-MM-DD") of an event, as text, on both databases."""
    if db.engine.dialect.name == "postgresql":
        utc = func.timezone("UTC", Event.created_at)
        return func.to_char(utc, "YYYY-MM-DD HH24" if unit == "hour" else "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d %H" if unit == "hour" else "%Y-%m-%d", Event.created_at)


def _series(campaign: Campaign, unit: str, start: datetime, end: datetime, labels: list[str]) -> dict:
    bucket = _bucket(unit)
    rows = db.session.execute(
        select(bucket, Event.kind, func.count())
        .where(
            Event.client_id == campaign.client_id,
            Event.campaign_id == campaign.id,
            Event.kind.in_(("open", "click")),
            Event.created_at >= start,
            Event.created_at < end,
        )
        .group_by(bucket, Event.kind)
    )
    index = {label: i for i, label in enumerate(labels)}
    series = {"open": [0] * len(labels), "click": [0] * len(labels)}
    for label, kind, n in rows:
        i = index.get(str(label))
        if i is not None:
            series[kind][i] += n
    return {"labels": labels, "opens": series["open"], "clicks": series["click"]}


def timeline(campaign: Campaign, now: datetime | None = None) -> dict:
    """Opens and clicks per hour for the first 48 hours after the start, then per day (UTC)."""
    now = now or datetime.now(UTC)
    first_hour = campaign.started_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = [first_hour + timedelta(hours=i) for i in range(HOURLY_WINDOW)]
    hourly_end = hours[-1] + timedelta(hours=1)
    hourly = _series(campaign, "hour", first_hour, hourly_end, [h.strftime("%Y-%m-%d %H") for h in hours])
    hourly["display"] = [h.strftime("%d/%m %H:00") for h in hours]
    first_day: date = hourly_end.date()
    last_day = min(now.date(), first_day + timedelta(days=DAILY_WINDOW - 1))
    days = [first_day + timedelta(days=i) for i in range(max((last_day - first_day).days + 1, 0))]
    daily = _series(
        campaign,
        "day",
        hourly_end,
        datetime.combine(last_day + timedelta(days=1), datetime.min.time(), UTC),
        [d.isoformat() for d in days],
    )
    daily["display"] = daily["labels"]
    return {"hourly": hourly, "daily": daily}


# --- links ------------------------------------------------------------------------------------------


@dataclass
class LinkRow:
    index: int
    url: str
    total: int
    unique: int


def link_clicks(campaign: Campaign) -> list[LinkRow]:
    """Every tracked link of the campaign with its clicks (links never clicked included, at 0)."""
    rows = db.session.execute(
        select(
            Event.link_index,
            func.count(),
            func.count(distinct(Event.delivery_id)),
            func.max(Event.detail),
        )
        .where(
            Event.client_id == campaign.client_id,
            Event.campaign_id == campaign.id,
            Event.kind == "click",
            Event.link_index.is_not(None),
        )
        .group_by(Event.link_index)
    )
    known = list(campaign.links or [])
    found = {i: (total, unique, detail or "") for i, total, unique, detail in rows}
    out = []
    for i in sorted(set(range(len(known))) | set(found)):
        total, unique, detail = found.get(i, (0, 0, ""))
        url = known[i] if i < len(known) else detail
        out.append(LinkRow(index=i, url=str(url), total=total, unique=unique))
    return sorted(out, key=lambda r: (-r.unique, r.index))


# --- per recipient ----------------------------------------------------------------------------------

RECIPIENT_FILTERS = ("opened", "clicked", "bounced", "unsubscribed", "complained")


def _flag(kind: str):
    return func.max(case((Event.kind == kind, 1), else_=0))


def recipients_query(campaign: Campaign, filters: dict[str, str]):
    """One row per delivery with its outcome flags; filters: opened/clicked/unsubscribed/complained
    "yes"/"no", bounced "yes"/"no"/"hard"/"soft"/"policy"."""
    per_delivery = (
        select(
            Event.delivery_id.label("delivery_id"),
            _flag("open").label("opened"),
            _flag("click").label("clicked"),
            _flag("unsubscribe").label("unsubscribed"),
            _flag("complaint").label("complained"),
            # hard beats soft beats policy when a delivery bounced more than once
            func.max(
                case(
                    (and_(Event.kind == "bounce", Event.bounce_class == "hard"), 3),
                    (and_(Event.kind == "bounce", Event.bounce_class == "soft"), 2),
                    (Event.kind == "bounce", 1),
                    else_=0,
                )
            ).label("bounce_rank"),
        )
        .where(
            Event.client_id == campaign.client_id,
            Event.campaign_id == campaign.id,
            Event.delivery_id.is_not(None),
        )
        .group_by(Event.delivery_id)
        .subquery()
    )

    def col(name):
        return func.coalesce(per_delivery.c[name], literal(0))

    query = (
        select(
            Delivery.id,
            Delivery.address,
            Delivery.status,
            Delivery.sent_at,
            cast(col("opened"), Integer).label("opened"),
            cast(col("clicked"), Integer).label("clicked"),
            cast(col("bounce_rank"), Integer).label("bounce_rank"),
            cast(col("unsubscribed"), Integer).label("unsubscribed"),
            cast(col("complained"), Integer).label("complained"),
        )
        .outerjoin(per_delivery, per_delivery.c.delivery_id == Delivery.id)
        .where(Delivery.client_id == campaign.client_id, Delivery.campaign_id == campaign.id)
    )
    for name in ("opened", "clicked", "unsubscribed", "complained"):
        value = filters.get(name)
        if value in ("yes", "no"):
            query = query.where(col(name) == (1 if value == "yes" else 0))
    bounced = filters.get("bounced")
    ranks = {"hard": 3, "soft": 2, "policy": 1}
    if bounced == "yes":
        query = query.where(col("bounce_rank") > 0)
    elif bounced == "no":
        query = query.where(col("bounce_rank") == 0)
    elif bounced in ranks:
        query = query.where(col("bounce_rank") == ranks[bounced])
    return query.order_by(Delivery.id)


BOUNCE_NAMES = {0: "", 1: "policy", 2: "soft", 3: "hard"}


@dataclass
class RecipientPage:
    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max((self.total + self.per_page - 1) // self.per_page, 1)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def recipient_page(campaign: Campaign, filters: dict[str, str], page: int, per_page: int = 50):
    query = recipients_query(campaign, filters)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    page = max(page, 1)
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return RecipientPage(items=rows, page=page, per_page=per_page, total=total)


def recipient_batches(campaign: Campaign, filters: dict[str, str], batch: int = 1000):
    """Rows in delivery id order (keyset), for streamed exports."""
    last_id = 0
    while True:
        rows = db.session.execute(
            recipients_query(campaign, filters).where(Delivery.id > last_id).limit(batch)
        ).all()
        if not rows:
            return
        yield rows
        last_id = rows[-1].id


# --- client-wide ------------------------------------------------------------------------------------


def audience_health(client: Client, days: int = 30, now: datetime | None = None) -> dict[str, int]:
    """Unsubscribes, bounces (hard/soft) and complaints of the last `days` days, one grouped query."""
    since = (now or datetime.now(UTC)) - timedelta(days=days)
    row = db.session.execute(
        select(
            _count_where(Event.kind == "unsubscribe").label("unsubscribes"),
            _count_where(Event.kind == "bounce").label("bounces"),
            _count_where(and_(Event.kind == "bounce", Event.bounce_class == "hard")).label("hard"),
            _count_where(Event.kind == "complaint").label("complaints"),
        ).where(Event.client_id == client.id, Event.created_at >= since)
    ).one()
    return {k: int(v or 0) for k, v in row._mapping.items()} | {"days": days}
