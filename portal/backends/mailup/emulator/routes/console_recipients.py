"""Console: recipients of lists and groups, synchronous subscribe, asynchronous imports, unsubscribe
(§6, §7). The rules live in `recipients.py`."""

from __future__ import annotations

from flask import Blueprint, request

from .. import recipients as rec
from ..auth import require_token
from ..model import EMAIL, OPTOUT_ADMIN, PENDING, SMS, SUBSCRIBED, UNSUBSCRIBED
from ..timefmt import fmt
from ..util import flag
from ..web import ApiError, account, arg, bare, body, body_object, empty, json_response, paged, state
from .common import get_group, get_list, get_recipient
from .console_account import group_item

bp = Blueprint("mailup_console_recipients", __name__)
bp.before_request(require_token)  # bearer token, rate limit, injected faults

STATUSES = {"subscribed": SUBSCRIBED, "unsubscribed": UNSUBSCRIBED, "pending": PENDING}


def _listing(list_id: int, channel: str, status: str):
    a = account()
    get_list(a, list_id)
    if status == "emailoptins" and channel == EMAIL:
        rows = rec.members(a, list_id, EMAIL, None)  # formatted page by page: only the page's items
        return paged(rows, lambda r: rec.optin_item(r, r.email_subs[list_id], fmt))
    if status not in STATUSES:
        raise ApiError(404, f"Unknown recipient status {status}")
    return paged(rec.members(a, list_id, channel, STATUSES[status]), lambda r: rec.item(a, r))


@bp.get("/list/<int:list_id>/recipients/<status>")
def list_recipients(list_id: int, status: str):
    return _listing(list_id, EMAIL, status)


@bp.get("/sms/list/<int:list_id>/recipients/<status>")
def sms_list_recipients(list_id: int, status: str):
    return _listing(list_id, SMS, status)


@bp.get("/group/<int:group_id>/recipients")
def group_recipients(group_id: int):
    a = account()
    get_group(a, group_id)
    return paged(rec.group_members(a, group_id), lambda r: rec.item(a, r))


@bp.get("/list/<int:list_id>/recipient/<int:recipient_id>/groups")
def recipient_groups(list_id: int, recipient_id: int):
    a = account()
    get_list(a, list_id)
    r = get_recipient(a, recipient_id)
    groups = [a.groups[g] for g in sorted(r.groups) if g in a.groups and a.groups[g].list_id == list_id]
    return paged(groups, group_item)


# --- subscribe -----------------------------------------------------------------------------------------


@bp.post("/list/<int:list_id>/recipient")
def subscribe_to_list(list_id: int):
    """Synchronous subscribe of one recipient → its id as a bare integer."""
    a = account()
    get_list(a, list_id)
    rid = rec.subscribe_one(state(), a, list_id, body_object(), confirm_email=flag(arg("ConfirmEmail")))
    return bare(rid)


@bp.post("/group/<int:group_id>/recipient")
def subscribe_to_group(group_id: int):
    a = account()
    group = get_group(a, group_id)
    rid = rec.subscribe_one(
        state(), a, group.list_id, body_object(), group_id=group_id, confirm_email=flag(arg("ConfirmEmail"))
    )
    return bare(rid)


def _start_import(list_id: int, channel: str, group_id: int | None = None):
    a = account()
    items = body(None)
    if not isinstance(items, list):
        raise ApiError(400, "The request body must be a JSON array of recipients")
    imp = rec.start_import(state(), a, list_id, items, dict(request.args.items()), channel, group_id)
    return bare(imp.id)


@bp.post("/list/<int:list_id>/recipients")
def import_to_list(list_id: int):
    """Asynchronous import of a JSON array → the import id as a bare integer; poll /Import/{id}."""
    get_list(account(), list_id)
    return _start_import(list_id, EMAIL)


@bp.post("/group/<int:group_id>/recipients")
def import_to_group(group_id: int):
    group = get_group(account(), group_id)
    return _start_import(group.list_id, EMAIL, group_id)


@bp.post("/sms/list/<int:list_id>/recipients")
def sms_import_to_list(list_id: int):
    get_list(account(), list_id)
    return _start_import(list_id, SMS)


@bp.post("/sms/group/<int:group_id>/recipients")
def sms_import_to_group(group_id: int):
    group = get_group(account(), group_id)
    return _start_import(group.list_id, SMS, group_id)


@bp.post("/group/<int:group_id>/subscribe/<int:recipient_id>")
def add_to_group(group_id: int, recipient_id: int):
    """Add an existing recipient to a group, which also subscribes it to the group's list."""
    a = account()
    group = get_group(a, group_id)
    r = get_recipient(a, recipient_id)
    r.groups.add(group_id)
    rec.subscribe(state(), r, group.list_id, EMAIL)
    return empty()


@bp.delete("/group/<int:group_id>/unsubscribe/<int:recipient_id>")
def remove_from_group(group_id: int, recipient_id: int):
    a = account()
    get_group(a, group_id)
    get_recipient(a, recipient_id).groups.discard(group_id)
    return empty()


@bp.post("/list/<int:list_id>/subscribe/<int:recipient_id>")
def force_subscribe(list_id: int, recipient_id: int):
    """Force the subscription of a pending or unsubscribed recipient (not one blocked by a hard bounce
    or a complaint)."""
    a = account()
    get_list(a, list_id)
    rec.subscribe(state(), get_recipient(a, recipient_id), list_id, EMAIL, confirm=False, force=True)
    return empty()


@bp.delete("/list/<int:list_id>/unsubscribe/<int:recipient_id>")
def unsubscribe(list_id: int, recipient_id: int):
    a = account()
    get_list(a, list_id)
    rec.unsubscribe(state(), get_recipient(a, recipient_id), list_id, EMAIL, OPTOUT_ADMIN)
    return empty()


@bp.delete("/list/<int:list_id>/recipient/<int:recipient_id>")
def remove_from_list(list_id: int, recipient_id: int):
    a = account()
    get_list(a, list_id)
    r = get_recipient(a, recipient_id)
    r.email_subs.pop(list_id, None)
    r.sms_subs.pop(list_id, None)
    r.groups = {g for g in r.groups if g in a.groups and a.groups[g].list_id != list_id}
    return empty()


@bp.delete("/recipients/<int:recipient_id>")
def remove_everywhere(recipient_id: int):
    a = account()
    r = get_recipient(a, recipient_id)
    del a.recipients[r.id]
    a.reindex()
    return empty()


# --- one recipient -------------------------------------------------------------------------------------


@bp.put("/recipient/detail")
def update_detail():
    a = account()
    try:
        r = rec.update_detail(a, body_object())
    except LookupError:
        raise ApiError(404, "Recipient not found") from None
    return json_response(rec.item(a, r))


@bp.get("/recipient/<ref>")
def recipient(ref: str):
    """`GET /Console/Recipient/{email}` (seen in one client only; by id too)."""
    a = account()
    r = rec.lookup(a, ref)
    if r is None:
        raise ApiError(404, "Recipient not found")
    return json_response(rec.item(a, r))


# --- import status -------------------------------------------------------------------------------------


def _import(import_id: int):
    a = account()
    imp = a.imports.get(import_id)
    if imp is None:
        raise ApiError(404, f"Import {import_id} not found")
    return a, imp


@bp.get("/import/<int:import_id>")
def import_status(import_id: int):
    a, imp = _import(import_id)
    rec.poll_import(state(), a, imp)
    return json_response(rec.import_status(imp))


@bp.get("/imports/<int:import_id>")
def import_detail(import_id: int):
    a, imp = _import(import_id)
    rec.poll_import(state(), a, imp)
    return json_response(rec.import_detail(imp, fmt))


@bp.get("/imports")
def imports():
    a = account()
    return paged(list(a.imports.values()), lambda imp: rec.import_detail(imp, fmt))


@bp.get("/import/<int:import_id>/sending")
def import_sending(import_id: int):
    """The id of the confirmation request a `ConfirmEmail=true` import queued (bare integer)."""
    _, imp = _import(import_id)
    if imp.sending_id is None:
        raise ApiError(404, f"Import {import_id} has no confirmation sending")
    return bare(imp.sending_id)
