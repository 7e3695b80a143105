"""Paged collections (§4.1, §4.2) and the `filterby` / `orderby` expressions sent with them.

A collection answers `{IsPaginated, Items, PageNumber, PageSize, Skipped, TotalElementsCount}` with a
0-based `pageNumber`. Walking it stops at the first empty page or once `TotalElementsCount` items were
read, whichever comes first. So a page past the end (the extra page some clients ask for, or the one
left when items disappear while we read) is harmless, and a full last page costs no extra call.
`IsPaginated` is not used: its exact rule is uncertain (§4.1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

DEFAULT_PAGE_SIZE = 100  # few calls at 5 calls/s; the server's own default is 20


@dataclass(frozen=True)
class Page:
    number: int
    items: list
    end: int  # items before this page and on it: Skipped + len(Items)
    total: int | None  # TotalElementsCount, when the answer has one

    @classmethod
    def from_api(cls, number: int, page_size: int, data) -> Page:
        if not isinstance(data, dict) or not isinstance(data.get("Items"), list):
            raise ValueError("not a paged collection")
        items = data["Items"]
        skipped = _count(data.get("Skipped"))
        if skipped is None:
            skipped = number * page_size
        return cls(number, items, skipped + len(items), _count(data.get("TotalElementsCount")))


def _count(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def walk(fetch: Callable[[int], Page], start: int = 0) -> Iterator[Page]:
    """Pages from `start` on; `fetch(n)` reads page n. A caller that records the page it reached (a pull
    cursor) can resume there."""
    number = start
    while True:
        page = fetch(number)
        if not page.items:
            return
        yield page
        if page.total is not None and page.end >= page.total:
            return
        number += 1


def quoted(expression: str) -> str:
    """The documented form: the whole expression in double quotes (`filterby="Email=='x@y'"`)."""
    expression = expression.strip()
    if len(expression) >= 2 and expression[0] == expression[-1] == '"':
        return expression
    return f'"{expression}"'


def literal(value) -> str:
    """A value inside a filter: numbers as they are, strings in single quotes with `'` doubled."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def equals(prop: str, value) -> str:
    return f"{prop}=={literal(value)}"


def contains(prop: str, value: str) -> str:
    return f"{prop}.Contains({literal(value)})"
