"""The statistics service per message (§12): `/Message/{id}/List/{Kind}` (paged rows) and
`/Message/{id}/Count/{Kind}` (a bare integer; filters do not apply to counts).

The full per-message recipient lists are kept about 15 days after the sending (then empty), open and
click details at least 90: pull them into our own store well inside that window. The rows carry no
event times; the caller stamps them when it reads them. Pages are exposed with their numbers so a pull
job can store how far it read and resume there.
"""

from __future__ import annotations

from collections.abc import Iterator

from .api import STATISTICS, MailupApi, bare_int
from .email_records import StatRow
from .paging import DEFAULT_PAGE_SIZE

# Our name → MailUp's Kind segment.
KINDS = {
    "deliveries": "Recipients",  # delivered recipients
    "views": "Views",  # one row per recipient; Count = opens
    "clicks": "Clicks",  # one row per recipient; Count = clicks
    "url_clicks": "UrlClicks",  # one row per URL; Count = clicks on it
    "url_click_details": "UrlClickDetails",  # one row per (URL, recipient)
    "bounces": "Bounces",  # Type: MailUp's bounce type string
    "unsubscriptions": "Unsubscriptions",
}


class StatisticsCalls(MailupApi):
    def message_stat_pages(
        self,
        message_id: int,
        kind: str,
        *,
        start: int = 0,
        page_size: int = DEFAULT_PAGE_SIZE,
        orderby: str | None = None,
        filterby: str | None = None,
    ) -> Iterator[tuple[int, list[StatRow]]]:
        """(page number, rows) from page `start` on."""
        path = f"/Message/{int(message_id)}/List/{_kind(kind)}"
        pages = self.pages(
            STATISTICS, path, start=start, page_size=page_size, orderby=orderby, filterby=filterby
        )
        for page in pages:
            yield page.number, [StatRow.from_api(kind, int(message_id), d) for d in page.items]

    def message_stats(self, message_id: int, kind: str, **paging) -> Iterator[StatRow]:
        for _, rows in self.message_stat_pages(message_id, kind, **paging):
            yield from rows

    def message_count(self, message_id: int, kind: str) -> int:
        path = f"/Message/{int(message_id)}/Count/{_kind(kind)}"
        return bare_int(self.call("GET", STATISTICS, path), f"GET {path}")

    def deliveries(self, message_id: int, **paging) -> Iterator[StatRow]:
        return self.message_stats(message_id, "deliveries", **paging)

    def views(self, message_id: int, **paging) -> Iterator[StatRow]:
        return self.message_stats(message_id, "views", **paging)

    def clicks(self, message_id: int, **paging) -> Iterator[StatRow]:
        return self.message_stats(message_id, "clicks", **paging)

    def url_clicks(self, message_id: int, **paging) -> Iterator[StatRow]:
        return self.message_stats(message_id, "url_clicks", **paging)

    def url_click_details(self, message_id: int, **paging) -> Iterator[StatRow]:
        return self.message_stats(message_id, "url_click_details", **paging)

    def bounces(self, message_id: int, **paging) -> Iterator[StatRow]:
        return self.message_stats(message_id, "bounces", **paging)

    def unsubscriptions(self, message_id: int, **paging) -> Iterator[StatRow]:
        return self.message_stats(message_id, "unsubscriptions", **paging)


def _kind(kind: str) -> str:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"kind is one of {', '.join(KINDS)}") from None
