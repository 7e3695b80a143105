"""Simulated recipient events and the statistics they feed (§12, §19).

Events exist only for a message the emulator delivered to that recipient. What each one does:

| kind          | statistics                   | subscription effect                                        |
|---------------|------------------------------|------------------------------------------------------------|
| delivery      | Recipients (auto_deliver off) | —                                                          |
| view          | Views                        | —                                                          |
| click         | Clicks, UrlClicks (url=…)    | —                                                          |
| hard_bounce   | Bounces (Type "Hard")        | unsubscribed from the email channel of every list of the   |
|               | and out of Recipients        | account, and blocked against forced re-subscription        |
| soft_bounce   | Bounces (Type "Soft")        | after `soft_bounce_limit` of them, the same account-wide   |
|               |                              | unsubscribe (not blocked)                                  |
| complaint     | —                            | unsubscribed from the message's list (or every list with   |
|               |                              | complaint_scope="account") and blocked                     |
| unsubscribe   | Unsubscriptions              | unsubscribed from the message's list                       |

Opt-outs carry Optout_Type (model.OPTOUT_*) and Optout_MsgID = the message, in `Recipients/EmailOptins`.

Retention: delivered recipients (and bounces, unsubscriptions) are listed for `retention_days` after the
sending or event (15 by default, then Count 0 and an empty list); views and clicks for
`view_retention_days` (90). Repeated sends of one message share its statistics (§9).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import recipients as rec
from .model import (
    EMAIL,
    OPTOUT_BOUNCE,
    OPTOUT_COMPLAINT,
    OPTOUT_LINK,
    Account,
    Event,
)
from .util import get_ci

if TYPE_CHECKING:
    from .state import EmulatorState

KINDS = ("delivery", "view", "click", "hard_bounce", "soft_bounce", "complaint", "unsubscribe")
ALIASES = {
    "open": "view",
    "opens": "view",
    "bounce": "hard_bounce",
    "spam": "complaint",
    "deliver": "delivery",
}
DAY = 86400.0


class EventError(ValueError):
    pass


def simulate(
    state: EmulatorState,
    account: Account,
    kind: str,
    message_id: int,
    recipient,
    *,
    url: str | None = None,
    bounce_type: str | None = None,
    at: float | None = None,
) -> dict:
    kind = ALIASES.get(kind.lower(), kind.lower())
    if kind not in KINDS:
        raise EventError(f"unknown event kind {kind!r}; one of {', '.join(KINDS)}")
    r = rec.lookup(account, recipient)
    if r is None:
        raise EventError(f"no recipient {recipient!r}")
    delivery = next(
        (d for d in reversed(account.deliveries) if d.message_id == message_id and d.recipient_id == r.id),
        None,
    )
    if delivery is None:
        raise EventError(f"message {message_id} was not delivered to recipient {r.id}")
    if delivery.channel != EMAIL:
        raise EventError("recipient events and statistics exist for email messages only")
    message = account.messages.get(message_id)
    list_id = message.list_id if message else None
    when = state.now() if at is None else float(at)
    if kind == "click":
        url = url or "http://www.example.com/"
    if kind == "hard_bounce":
        bounce_type = bounce_type or "Hard"
    if kind == "soft_bounce":
        bounce_type = bounce_type or "Soft"
    event = Event(account.next_id("event"), kind, message_id, r.id, delivery.address, when, url, bounce_type)
    account.events.append(event)
    if kind == "hard_bounce":
        r.blocked = "hard_bounce"
        rec.unsubscribe_everywhere(state, account, r, OPTOUT_BOUNCE, message_id)
    elif kind == "soft_bounce":
        r.soft_bounces += 1
        if r.soft_bounces >= state.options.soft_bounce_limit:
            rec.unsubscribe_everywhere(state, account, r, OPTOUT_BOUNCE, message_id)
    elif kind == "complaint":
        r.blocked = r.blocked or "complaint"
        if state.options.complaint_scope == "account":
            rec.unsubscribe_everywhere(state, account, r, OPTOUT_COMPLAINT, message_id)
        elif list_id is not None:
            rec.unsubscribe(state, r, list_id, EMAIL, OPTOUT_COMPLAINT, message_id)
    elif kind == "unsubscribe" and list_id is not None:
        rec.unsubscribe(state, r, list_id, EMAIL, OPTOUT_LINK, message_id)
    return {
        "id": event.id,
        "kind": kind,
        "message_id": message_id,
        "recipient_id": r.id,
        "address": delivery.address,
        "at": when,
        "url": url,
        "bounce_type": bounce_type,
    }


# --- statistics ----------------------------------------------------------------------------------------


def _events(state: EmulatorState, account: Account, kinds: tuple, message_id=None, recipient_id=None):
    now = state.now()
    keep = {
        "view": state.options.view_retention_days,
        "click": state.options.view_retention_days,
    }
    for e in account.events:
        if e.kind not in kinds:
            continue
        if message_id is not None and e.message_id != message_id:
            continue
        if recipient_id is not None and e.recipient_id != recipient_id:
            continue
        if now - e.at > keep.get(e.kind, state.options.retention_days) * DAY:
            continue
        yield e


def _delivered(state: EmulatorState, account: Account, message_id=None, recipient_id=None):
    """(message id, recipient id) -> (address, sends) for email deliveries inside the retention window,
    less the bounced ones; only simulated deliveries count when auto_deliver is off."""
    now = state.now()
    window = state.options.retention_days * DAY
    out: dict[tuple[int, int], list] = {}
    for d in account.deliveries:
        if d.message_id is None or d.channel != EMAIL or now - d.at > window:
            continue
        if message_id is not None and d.message_id != message_id:
            continue
        if recipient_id is not None and d.recipient_id != recipient_id:
            continue
        entry = out.setdefault((d.message_id, d.recipient_id), [d.address, 0])
        entry[1] += 1
    bounced = {
        (e.message_id, e.recipient_id) for e in _events(state, account, ("hard_bounce", "soft_bounce"))
    }
    if not state.options.auto_deliver:
        confirmed = {(e.message_id, e.recipient_id) for e in _events(state, account, ("delivery",))}
        out = {k: v for k, v in out.items() if k in confirmed}
    return {k: v for k, v in out.items() if k not in bounced}


def _counted(events, key) -> dict:
    out: dict = {}
    for e in events:
        k = key(e)
        if k in out:
            out[k][1] += 1
        else:
            out[k] = [e, 1]
    return out


def message_items(state: EmulatorState, account: Account, message_id: int, kind: str) -> list[dict] | None:
    """Items of `/Message/{id}/List/{Kind}` (None for an unknown kind)."""
    kind = kind.lower()
    mid = message_id
    if kind in ("recipients", "deliveries"):
        return [
            {"Email": addr, "IdMessage": m, "IdRecipient": r}
            for (m, r), (addr, _) in sorted(_delivered(state, account, message_id=mid).items())
        ]
    if kind == "views":
        views = _counted(_events(state, account, ("view",), message_id=mid), lambda e: e.recipient_id)
        return [
            {"Count": n, "Email": e.address, "IdRecipient": e.recipient_id, "IdMessage": mid}
            for e, n in views.values()
        ]
    if kind == "clicks":
        clicks = _counted(_events(state, account, ("click",), message_id=mid), lambda e: e.recipient_id)
        return [{"Count": n, "Email": e.address, "IdRecipient": e.recipient_id} for e, n in clicks.values()]
    if kind == "urlclicks":
        urls = _counted(_events(state, account, ("click",), message_id=mid), lambda e: e.url)
        return [{"Count": n, "IdMessage": mid, "Url": e.url} for e, n in urls.values()]
    if kind in ("urlclickdetails", "clicksdetails"):
        rows = _counted(
            _events(state, account, ("click",), message_id=mid), lambda e: (e.url, e.recipient_id)
        )
        return [
            {"Count": n, "Email": e.address, "IdMessage": mid, "IdRecipient": e.recipient_id, "Url": e.url}
            for e, n in rows.values()
        ]
    if kind in ("bounces", "bouncesdetails"):
        return [
            {"Email": e.address, "IdRecipient": e.recipient_id, "IdMessage": mid, "Type": e.bounce_type}
            for e in _events(state, account, ("hard_bounce", "soft_bounce"), message_id=mid)
        ]
    if kind == "unsubscriptions":
        return [
            {"Email": e.address, "IdMessage": mid, "IdRecipient": e.recipient_id}
            for e in _events(state, account, ("unsubscribe",), message_id=mid)
        ]
    return None


def recipient_items(
    state: EmulatorState, account: Account, recipient_id: int, kind: str
) -> list[dict] | None:
    """Items of `/Recipient/{id}/List/{Kind}`: one row per message (per URL for the click details)."""
    kind = kind.lower()
    rid = recipient_id

    def about(mid):
        m = account.messages.get(mid)
        return (
            (m.list_id if m else None),
            (m.subject if m else None),
            ((get_ci(m.body, "Notes") or "") if m else ""),
        )

    if kind == "deliveries":
        out = []
        for (mid, _), (_, sends) in sorted(_delivered(state, account, recipient_id=rid).items()):
            list_id, subject, notes = about(mid)
            out.append(
                {"Count": sends, "IdList": list_id, "IdMessage": mid, "Notes": notes, "Subject": subject}
            )
        return out
    if kind in ("views", "clicks"):
        ev = "view" if kind == "views" else "click"
        rows = _counted(_events(state, account, (ev,), recipient_id=rid), lambda e: e.message_id)
        return [
            {"Count": n, "Email": e.address, "IdRecipient": rid, "IdMessage": mid, "IdList": about(mid)[0]}
            for mid, (e, n) in sorted(rows.items())
        ]
    if kind in ("clicksdetails", "urlclickdetails"):
        rows = _counted(
            _events(state, account, ("click",), recipient_id=rid), lambda e: (e.message_id, e.url)
        )
        return [
            {"Count": n, "Email": e.address, "IdMessage": e.message_id, "IdRecipient": rid, "Url": e.url}
            for e, n in rows.values()
        ]
    if kind in ("bounces", "bouncesdetails"):
        return [
            {"Email": e.address, "IdRecipient": rid, "IdMessage": e.message_id, "Type": e.bounce_type}
            for e in _events(state, account, ("hard_bounce", "soft_bounce"), recipient_id=rid)
        ]
    if kind == "unsubscriptions":
        return [
            {
                "Email": e.address,
                "IdMessage": e.message_id,
                "IdRecipient": rid,
                "IdList": about(e.message_id)[0],
            }
            for e in _events(state, account, ("unsubscribe",), recipient_id=rid)
        ]
    return None
