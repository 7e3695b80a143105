"""Read-only queries of the agency area (dashboard figures, lists with paging). The tenant filter scopes each
one to the bound agency; counts name a model column so the filter sees the entity (a bare
`select(func.count()).select_from(...)` would hide it)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select

from .. import paging
from ..extensions import db
from ..models import CLIENT_ACTIVE, CLIENT_SUSPENDED, AuditEvent, Client, Membership, User
from ..paging import Page

PER_PAGE = 25


def paginate(query: Select, count: Select, page: int, per_page: int = PER_PAGE) -> Page:
    return paging.paginate(query, count, page, per_page)


# --- dashboard ---------------------------------------------------------------------------------------


@dataclass
class Overview:
    clients_active: int
    clients_suspended: int
    users: int
    email_quota_total: int


def overview() -> Overview:
    by_status = dict(
        db.session.execute(select(Client.status, func.count(Client.id)).group_by(Client.status)).all()
    )
    users = db.session.scalar(
        select(func.count(User.id))
        .join(Membership, Membership.user_id == User.id)
        .where(User.active.is_(True))
    )
    quota = db.session.scalar(
        select(func.coalesce(func.sum(Client.email_quota_month), 0)).where(Client.status == CLIENT_ACTIVE)
    )
    return Overview(
        clients_active=by_status.get(CLIENT_ACTIVE, 0),
        clients_suspended=by_status.get(CLIENT_SUSPENDED, 0),
        users=users or 0,
        email_quota_total=int(quota or 0),
    )


def latest_clients(limit: int = 5) -> list[Client]:
    return list(
        db.session.scalars(select(Client).order_by(Client.created_at.desc(), Client.id.desc()).limit(limit))
    )


def recent_activity(limit: int = 10) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(limit)
    return list(db.session.scalars(query))


# --- clients -------------------------------------------------------------------------------------------


def client_page(search: str, page: int) -> Page:
    query, count = select(Client), select(func.count(Client.id))
    search = search.strip()
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        condition = Client.name.ilike(f"%{escaped}%", escape="\\")
        query, count = query.where(condition), count.where(condition)
    return paginate(query.order_by(Client.name, Client.id), count, page)


def user_counts(client_ids: list[int]) -> dict[int, int]:
    if not client_ids:
        return {}
    rows = db.session.execute(
        select(Membership.client_id, func.count(Membership.id))
        .where(Membership.client_id.in_(client_ids))
        .group_by(Membership.client_id)
    )
    return dict(rows.all())


def client_names() -> dict[int, str]:
    return dict(db.session.execute(select(Client.id, Client.name)).all())


# --- activity ------------------------------------------------------------------------------------------


def activity_page(page: int) -> Page:
    query = select(AuditEvent).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    return paginate(query, select(func.count(AuditEvent.id)), page, per_page=50)
