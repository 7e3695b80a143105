"""The resumable half of an adoption: walk every step's pages (remote.py) and write each page's rows with
the cursor that follows it in one commit (the caller's `after_page` commits). A worker killed between two
pages resumes at the page it had not committed; a page read twice upserts the same rows, so nothing is
counted or imported twice. Rows are written set-based: one INSERT … ON CONFLICT DO UPDATE per page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..backends.mailup.api import CONSOLE
from ..backends.mailup.paging import Page
from ..extensions import db
from ..models import Adoption, AdoptionMember, AdoptionRecord
from .remote import COLUMNS, Step, optin_row, recipient_row, steps_for
from .types import merge_tallies

KEY = ["adoption_id", "remote_list_id", "channel", "remote_id"]
RECORD_COLUMNS = (
    "email",
    "phone",
    "fields",
    "status",
    "consent_at",
    "consent_ip",
    "optout_at",
    "optout_type",
    "optout_subtype",
    "problem",
)


def read_all(adoption: Adoption, api, region: str, after_page: Callable[[int], None]) -> None:
    """Read from the stored cursor to the end. `after_page(n)` gets the items of the page just stored
    (0 at the end of a step) and commits them with the cursor."""
    steps = steps_for(adoption.preview)
    page_size = int(adoption.preview.get("page_size") or 1000)
    cursor = dict(adoption.cursor or {})
    first = int(cursor.get("step", 0))
    for index in range(first, len(steps)):
        step = steps[index]
        start = int(cursor.get("page", 0)) if index == first else 0
        for page in pages_ahead(api, step.path, page_size, start):
            store_page(adoption, step, page.items, region)
            adoption.cursor = {"step": index, "page": page.number + 1}
            after_page(len(page.items))
        adoption.cursor = {"step": index + 1, "page": 0}
        after_page(0)


def pages_ahead(api, path: str, page_size: int, start: int) -> Iterator[Page]:
    """The collection's pages from `start`, each next one already being fetched while the caller stores
    the one before: the provider builds a page while the portal writes the last, within the same rate
    limit (one request in flight, all of them from the fetching thread, which is the only user of `api`).
    Stops as paging.walk does: at an empty page, or once TotalElementsCount items were read."""

    def fetch(number: int) -> Page:
        return next(iter(api.pages(CONSOLE, path, page_size=page_size, start=number)), Page(number, [], 0, 0))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="adoption-fetch") as pool:
        ahead = pool.submit(fetch, start)
        while True:
            page = ahead.result()
            if not page.items:
                return
            last = page.total is not None and page.end >= page.total
            if not last:
                ahead = pool.submit(fetch, page.number + 1)
            yield page
            if last:
                return


def store_page(adoption: Adoption, step: Step, items: list, region: str) -> None:
    if step.kind == "group":
        _store_members(adoption, step, items)
        return
    if step.kind == "optins":
        rows = [r for r in (optin_row(item) for item in items) if r is not None]
    else:
        tally: dict = {}
        rows = [recipient_row(step, item, region, tally) for item in items]
        stats = dict(adoption.stats or {})
        stats["fields"] = merge_tallies(dict(stats.get("fields") or {}), tally)
        adoption.stats = stats
    if rows:
        _upsert(adoption, step, rows)


def _insert():
    return pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert


def _upsert(adoption: Adoption, step: Step, rows: list[dict]) -> None:
    base = {
        "agency_id": adoption.agency_id,
        "client_id": adoption.client_id,
        "adoption_id": adoption.id,
        "remote_list_id": step.list_id,
        "channel": step.channel,
    }
    values = [{**base, **dict.fromkeys(RECORD_COLUMNS), "status": "", **row} for row in rows]
    stmt = _insert()(AdoptionRecord.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=KEY, set_={c: stmt.excluded[c] for c in COLUMNS[step.kind]}
    )
    db.session.execute(stmt, values)


def _store_members(adoption: Adoption, step: Step, items: list) -> None:
    ids = {int(item["idRecipient"]) for item in items if item.get("idRecipient") is not None}
    if not ids:
        return
    stmt = _insert()(AdoptionMember.__table__).on_conflict_do_nothing(
        index_elements=["adoption_id", "group_id", "remote_id"]
    )
    db.session.execute(
        stmt,
        [
            {
                "agency_id": adoption.agency_id,
                "client_id": adoption.client_id,
                "adoption_id": adoption.id,
                "group_id": step.group_id,
                "remote_id": rid,
            }
            for rid in sorted(ids)
        ],
    )
