"""A campaign sent by MailUp itself (DESIGN.md §6, provider-side): the `CampaignBackend` of base.py over
`MailupClient`. Plain data in, plain data out: it knows nothing of the portal's models.

Every step is resumable. What it finished and the ids it got go to `record(updates)` (the caller merges
them into the campaign's provider_state and commits) BEFORE the next call that must not be repeated:

1. sync_audience: the campaign's group, created once under a unique name (`state["ref"]`). Before the
   create call the name is recorded as pending; a worker that died without the answer finds the group
   by that name instead of creating a second one. Then the members, in delivery-id order, from the
   last recorded one on: a small audience by synchronous subscribes (one call each, an upsert), a large
   one by asynchronous imports of up to `import_batch` members (one call per batch, however large: the
   rate limit counts calls, so big batches are what keeps a 100,000-member sync inside its budget; sized
   down when loading them is slower than the limiter, see `_next_size`), each polled until complete
   before the next; the last delivery id of a completed batch is recorded.
2. create_message: one message per campaign (repeated sends of one message share statistics, §9),
   found again by its Notes (= the ref) when an earlier create's outcome is unknown.
3. send: to the group now or at a time. The order is recorded as pending before the call; a resumed
   worker looks for it in the message's send history and the deferred queue before sending again.
4. pull_events: deliveries, views, clicks per URL, bounces and unsubscriptions of the message, with
   event ids derived from (message, kind, recipient[, url], n) so pulling twice records nothing twice.
   The rows carry no times (§12): events are stamped when read.

Errors are the client library's (errors.py): neutral text, MailUp's codes kept for the operator.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice

from ..base import AudienceMember, BackendUnavailable, PulledEvent
from .client import MailupClient
from .console import GROUP_NAME_MAX
from .email_records import EmailDraft, Sending
from .errors import MailupRequestRefused
from .records import Optin, Recipient
from .values import format_date, parse_date

SYNC_MAX = 20  # up to this many members: synchronous subscribes (an import costs at least 3 calls)
IMPORT_BATCH = 5000  # the largest import; smaller ones when loading them is slower than the rate limit
MIN_IMPORT_BATCH = 1000
# Kinds whose rows only grow (read from the page before the one we stopped at) and kinds whose rows
# change in place (a recipient's Count of opens or clicks grows: read again from the first page).
APPEND_KINDS = ("deliveries", "bounces", "unsubscriptions")
COUNT_KINDS = ("views", "url_click_details")
STAT_PAGE = 500

# Optout_Type numbers (§19: their meanings are not published; these are the emulator's, model.py).
OPTOUT_ADMIN, OPTOUT_LINK, OPTOUT_BOUNCE, OPTOUT_COMPLAINT = 1, 2, 3, 4


def _nothing(updates: dict) -> None:
    pass


@dataclass(frozen=True)
class ListOptout:
    """An opt-out of the bound list: who, when, why (unsubscribe / bounce / complaint / admin) and the
    message that caused it (None: not a message, e.g. an operator in the console)."""

    address: str
    kind: str  # unsubscribe | bounce | complaint | admin
    message_id: int | None
    occurred_at: datetime | None


class MailupCampaign:
    def __init__(
        self,
        client: MailupClient,
        list_id: int,
        *,
        record: Callable[[dict], None] = _nothing,
        sync_max: int = SYNC_MAX,
        import_batch: int = IMPORT_BATCH,
        import_wait_s: float = 600,
        poll_s: float | None = None,
    ):
        self.client, self.list_id, self.record = client, int(list_id), record
        self.sync_max, self.import_batch, self.import_wait_s = sync_max, import_batch, import_wait_s
        # Status reads of an import start one of the account's call intervals apart (the limiter's own
        # pace, so no token goes unused while a batch loads), then 1.5x longer each time, so a long
        # import leaves the budget to other work.
        rate = client.config.rate_per_s or 5.0
        self.poll_s = poll_s if poll_s is not None else min(1.0, 1.0 / rate)

    def _save(self, state: dict, updates: dict) -> None:
        state.update(updates)
        self.record(updates)

    # --- 1. audience -------------------------------------------------------------------------------------

    def sync_audience(self, state: dict, members: Iterable[AudienceMember], *, total: int = 0) -> dict:
        """`members` in delivery-id order (those up to state["pushed_through"] are skipped); `total`
        is how many there are in all (it chooses subscribes or imports)."""
        state = dict(state)
        if not state.get("group_id"):
            self._save(state, {"group_id": self._group(state)})
        if state.get("audience_done"):
            return state
        done = int(state.get("pushed_through") or 0)
        todo = (m for m in members if m.delivery_id > done)
        if state.get("import_id"):  # an import was handed over; wait for it before pushing more
            self._finish_import(state)
        small = total <= self.sync_max and not state.get("imported")
        size = self.import_batch
        while batch := list(islice(todo, size)):
            batch = [m for m in batch if m.delivery_id > int(state.get("pushed_through") or 0)]
            if not batch:
                continue
            if small:
                for m in batch:
                    self.client.subscribe(_recipient(m), group_id=state["group_id"])
                self._save(state, {"pushed_through": batch[-1].delivery_id})
                continue
            started, calls = time.monotonic(), self.client.stats.calls
            import_id = self.client.import_recipients(
                [_recipient(m) for m in batch], group_id=state["group_id"]
            )
            self._save(
                state, {"import_id": import_id, "import_last": batch[-1].delivery_id, "imported": True}
            )
            self._finish_import(state)
            size = self._next_size(size, time.monotonic() - started, self.client.stats.calls - calls)
        self._save(state, {"audience_done": True})
        return state

    def _next_size(self, size: int, elapsed: float, calls: int) -> int:
        """Batches sized to the rate limit. A batch costs a few calls whatever its size (the import and
        its status reads), which the account's limiter spaces `calls / rate` apart; loading the members
        (building the body here, storing them there) takes time per member. When loading took longer
        than the limiter needed, the calls sat idle: the next batch shrinks towards the size where both
        take as long — the same members per second, with the calls the account allows. When the limiter
        was the slower part it grows back, up to `import_batch`. Never below MIN_IMPORT_BATCH: under it the
        calls per member, not the loading, would bound the sync (100,000 members in a minute at 5 calls/s
        take at least 1,000 per import)."""
        rate = self.client.config.rate_per_s
        floor = min(self.import_batch, MIN_IMPORT_BATCH)
        if rate <= 0 or calls <= 0 or elapsed <= 0:
            return size
        paced = calls / rate
        if elapsed > paced * 1.1:
            return max(floor, int(size * paced / elapsed))
        return min(self.import_batch, int(size * 1.25) + 1)

    def _group(self, state: dict) -> int:
        name = str(state["ref"])[:GROUP_NAME_MAX]
        if state.get("group_pending"):
            found = self.client.find_group(self.list_id, name)
            if found is not None:
                return found.id
        self._save(state, {"group_pending": name})
        return self.client.create_group(self.list_id, name, notes=name).id

    def _finish_import(self, state: dict) -> None:
        status = self.client.wait_for_import(
            int(state["import_id"]), max_wait_s=self.import_wait_s, first_poll_s=self.poll_s
        )
        if not status.completed:
            raise BackendUnavailable("the delivery service is still loading the audience")
        self._save(state, {"import_id": None, "pushed_through": state["import_last"]})

    # --- 2. message --------------------------------------------------------------------------------------

    def create_message(self, state: dict, *, subject: str, html: str, text: str = "") -> dict:
        """`html` and `subject` already carry the provider's merge tags ([field]). The sender is not
        the message's: it is the list's, set right before the send (`send(sender=...)`)."""
        state = dict(state)
        if state.get("message_id"):
            return state
        ref = str(state["ref"])
        if state.get("message_pending"):
            found = next((m for m in self.client.messages(self.list_id) if m.notes == ref), None)
            if found is not None:
                self._save(state, {"message_id": found.id})
                return state
        self._save(state, {"message_pending": True})
        draft = EmailDraft(
            subject=subject,
            html=html,
            notes=ref,
            preheader=str(state.get("preheader") or ""),
            use_dynamic_fields=True,
        )
        self._save(state, {"message_id": self.client.create_message(self.list_id, draft).id})
        return state

    # --- 3. send -----------------------------------------------------------------------------------------

    def send(self, state: dict, *, at: datetime | None = None, sender: tuple[str, str] | None = None) -> dict:
        """`sender` (name, address): MailUp sends with the list's sender (§5.2), so it is set on the
        list just before the send is ordered — after a resume too, since another campaign of the same
        list may have set its own meanwhile."""
        state = dict(state)
        if state.get("sending_id") or state.get("sent_at"):
            return state
        group_id, message_id = int(state["group_id"]), int(state["message_id"])
        if state.get("send_pending"):
            found = self._find_sending(group_id, message_id)
            if found is not None:
                self._save(state, _sent(found.id, found.raw.get("Sent"), (), ()))
                return state
        if sender is not None:
            self.set_sender(*sender)
        self._save(state, {"send_pending": True, "send_at": format_date(at) if at else None})
        result = self.client.send_to_group(group_id, message_id, at=at)
        self._save(state, _sent(result.sending_id, result.sent, result.invalid, result.unprocessed))
        return state

    def _find_sending(self, group_id: int, message_id: int) -> Sending | None:
        def ours(s: Sending) -> bool:
            return s.message_id in (None, message_id) and s.group_id in (None, group_id)

        history = self.client.send_history(self.list_id, message_id)
        queued = [s for q in ("Immediate", "Deferred") for s in self.client.sendings(q) if s.message_id]
        return next((s for s in history + queued if ours(s) and s.message_id == message_id), None)

    def set_sender(self, name: str, email: str) -> None:
        """The sender of what the list sends next (test copies set it once before their sends)."""
        self.client.set_list_sender(self.list_id, name, email)

    def send_test(self, state: dict, address: str, fields: dict[int, str] | None = None) -> None:
        """One copy to one address (test sends): the single-recipient send of the campaign's message."""
        result = self.client.send_single(int(state["message_id"]), address, fields)
        if result.invalid or result.unprocessed:
            raise MailupRequestRefused("the delivery service did not accept this address for a test")

    # --- 4. events ---------------------------------------------------------------------------------------

    def pull_events(self, state: dict, cursor: dict) -> tuple[Iterator[PulledEvent], dict]:
        """Every event of the message since `cursor`. The iterator reads lazily; the returned cursor
        is updated as it goes, so store it only once the events were recorded."""
        cursor = {k: dict(v) for k, v in (cursor or {}).items()}
        return self._events(int(state["message_id"]), cursor), cursor

    def _events(self, message_id: int, cursor: dict) -> Iterator[PulledEvent]:
        now = datetime.now(UTC)
        for kind in APPEND_KINDS:
            mark = cursor.setdefault(kind, {"page": 0, "count": -1})
            count = self.client.message_count(message_id, kind)
            if count == mark["count"]:
                continue  # nothing new (Count ignores filters, §12, and we use none)
            start = max(0, int(mark["page"]) - 1)  # a row removed before our page shifts it back one
            for number, rows in self.client.message_stat_pages(
                message_id, kind, start=start, page_size=STAT_PAGE
            ):
                for row in rows:
                    yield _event(kind, message_id, row, 0, now)
                mark["page"] = number
            mark["count"] = count
        for kind in COUNT_KINDS:
            for row in self.client.message_stats(message_id, kind, page_size=STAT_PAGE):
                for n in range(max(1, row.count)):
                    yield _event(kind, message_id, row, n, now)

    def list_optouts(self) -> Iterator[ListOptout]:
        """The bound list's opt-outs (every reason), for attribution by the caller."""
        for o in self.client.list_optouts(self.list_id, page_size=STAT_PAGE):
            yield _optout(o)


def _recipient(m: AudienceMember) -> Recipient:
    return Recipient(email=m.address, fields={int(k): v for k, v in m.fields.items()})


def _sent(sending_id, sent, invalid, unprocessed) -> dict:
    return {
        "sending_id": sending_id,
        "sent_count": int(sent or 0),
        "invalid": list(invalid),
        "unprocessed": list(unprocessed),
        "sent_at": datetime.now(UTC).isoformat(),
        "send_pending": False,
    }


_KIND = {
    "deliveries": "delivered",
    "views": "open",
    "url_click_details": "click",
    "bounces": "bounce",
    "unsubscriptions": "unsubscribe",
}


def _event(kind: str, message_id: int, row, n: int, now: datetime) -> PulledEvent:
    ours = _KIND[kind]
    who = row.recipient_id if row.recipient_id is not None else row.email.lower()
    key = f"{message_id}:{ours}:{who}"
    bounce_class = detail = ""
    if ours == "open":
        key += f":{n}"
    elif ours == "click":
        key += f":{hashlib.sha1(row.url.encode()).hexdigest()[:16]}:{n}"
        detail = row.url
    elif ours == "bounce":
        # Type is a string whose values are not published (§12): "Hard" / "Soft" on the emulator.
        bounce_class = "hard" if "hard" in row.bounce_type.lower() else "soft"
        key += f":{bounce_class}"
        detail = row.bounce_type
    return PulledEvent(
        provider_event_id=key,
        kind=ours,
        address=row.email,
        occurred_at=now,
        bounce_class=bounce_class,
        detail=detail,
    )


def _optout(o: Optin) -> ListOptout:
    kind = {
        OPTOUT_LINK: "unsubscribe",
        OPTOUT_BOUNCE: "bounce",
        OPTOUT_COMPLAINT: "complaint",
        OPTOUT_ADMIN: "admin",
    }.get(o.optout_type, "unsubscribe")
    return ListOptout(o.email, kind, o.optout_message_id, o.optout_date)


def parse_sent_at(value) -> datetime | None:
    """The sent_at the send step recorded (ISO), for the caller's pull window."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return parse_date(value)
