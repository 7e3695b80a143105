"""Offset paging for tables that are small enough to count (staff, clients, suppression entries, logs).
Contact lists use keyset paging instead (portal.services.contacts)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Select

from .extensions import db


@dataclass
class Page:
    """What the `pager` macro needs."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

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


def clamp_page(page: int, total: int, per_page: int) -> int:
    return min(max(1, page), max(1, math.ceil(total / per_page)))


def paginate(query: Select, count: Select, page: int, per_page: int) -> Page:
    """One COUNT, then one page of rows; a page number past the end shows the last page."""
    total = db.session.scalar(count) or 0
    page = clamp_page(page, total, per_page)
    items = list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, page=page, per_page=per_page, total=total)
