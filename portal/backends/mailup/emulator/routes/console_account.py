"""Console: account and user info, lists (both generations), groups, personal-field definitions (§5, §6,
§7.2)."""

from __future__ import annotations

from flask import Blueprint

from ..auth import require_token
from ..model import Account, Group, MailList
from ..timefmt import fmt
from ..util import get_ci
from ..web import ApiError, account, body_object, empty, json_response, paged, state
from .common import get_group, get_list

bp = Blueprint("mailup_console_account", __name__)
bp.before_request(require_token)  # bearer token, rate limit, injected faults

# What POST /Console/List refuses to create a list without (§5.2), plus IdSettings or UseDefaultSettings.
LIST_MANDATORY = (
    "Name Business Customer OwnerEmail ReplyTo NLSenderName CompanyName ContactName Address City "
    "CountryCode PermissionReminder WebSiteUrl"
).split()
NAME_MAX = 50


@bp.get("/authentication/info")
def info():
    a = account()
    return json_response(_info(a))


def _info(a: Account) -> dict:
    return {
        "AccountName": None,  # set only for reseller-plan accounts
        "Company": a.company,
        "ExpiryDate": fmt(state().now() + 365 * 86400),
        "IsTrial": False,
        "UID": str(a.uid),
        "Url": a.console_host,
        "Username": a.username,
        "Version": "9.0",
    }


@bp.get("/authentication/details")
def details():
    a = account()
    out = _info(a)
    out.update(
        {
            "AutoRenewal": True,
            "CreditsByList": [
                {"Credit": a.sms_credits if lid == 1 else 0, "ListId": lid} for lid in sorted(a.lists)
            ],
            "Email": f"{a.username}@emulator.invalid",
            "Lang": "en",
            "Plan": "Emulated",
            "TotalCredits": a.sms_credits,
        }
    )
    return json_response(out)


# --- lists ---------------------------------------------------------------------------------------------


def list_item(lst: MailList) -> dict:
    """The current-generation list DTO: capitalised IdList and ListGuid, then the settings as sent."""
    out = {"IdList": lst.id, "ListGuid": lst.guid, "Name": lst.name, "Description": ""}
    out.update(lst.settings)
    return out


def user_list_item(a: Account, lst: MailList) -> dict:
    """The older `User/Lists` item: lower-case idList."""
    return {
        "Company": get_ci(lst.settings, "CompanyName") or get_ci(lst.settings, "Business") or a.company,
        "Description": get_ci(lst.settings, "Description") or "",
        "ListGuid": lst.guid,
        "Name": lst.name,
        "idList": lst.id,
    }


def _check_name(name) -> str:
    name = str(name or "").strip()
    if not name:
        raise ApiError(400, "Name is required")
    if len(name) > NAME_MAX:
        raise ApiError(400, f"Name is longer than {NAME_MAX} characters")
    return name


@bp.get("/list")
def lists():
    a = account()
    return paged(list(a.lists.values()), list_item)


@bp.get("/list/<int:list_id>")
def list_detail(list_id: int):
    return json_response(list_item(get_list(account(), list_id)))


@bp.post("/list")
def create_list():
    data = body_object()
    missing = [k for k in LIST_MANDATORY if get_ci(data, k) in (None, "")]
    if get_ci(data, "IdSettings") in (None, "", 0) and not get_ci(data, "UseDefaultSettings"):
        missing.append("IdSettings or UseDefaultSettings")
    if missing:
        raise ApiError(400, "Missing mandatory fields: " + ", ".join(missing))
    _check_name(get_ci(data, "Name"))
    return json_response(list_item(state().create_list(account(), data)))


@bp.put("/list/<int:list_id>")
def update_list(list_id: int):
    lst = get_list(account(), list_id)
    _apply_list_update(lst, body_object())
    return json_response(list_item(lst))


def _apply_list_update(lst: MailList, data: dict) -> None:
    if get_ci(data, "Name") is not None:
        lst.name = _check_name(get_ci(data, "Name"))
    for key, value in data.items():
        if key.lower() not in ("name", "idlist", "listguid"):
            existing = next((k for k in lst.settings if k.lower() == key.lower()), key)
            lst.settings[existing] = value


@bp.delete("/list/<int:list_id>")
def delete_list(list_id: int):
    a = account()
    get_list(a, list_id)
    del a.lists[list_id]
    for gid in [g.id for g in a.groups.values() if g.list_id == list_id]:
        del a.groups[gid]
    for r in a.recipients.values():
        r.email_subs.pop(list_id, None)
        r.sms_subs.pop(list_id, None)
        r.groups = {g for g in r.groups if g in a.groups}
    return empty()


@bp.get("/user/lists")
def user_lists():
    a = account()
    return paged(list(a.lists.values()), lambda lst: user_list_item(a, lst))


@bp.post("/user/lists")
def create_user_list():
    """The deprecated create (lower-case keys, §5.2): only a name is required."""
    data = body_object()
    _check_name(get_ci(data, "Name"))
    a = account()
    return json_response(user_list_item(a, state().create_list(a, data)))


@bp.put("/user/list/<int:list_id>")
def update_user_list(list_id: int):
    a = account()
    lst = get_list(a, list_id)
    _apply_list_update(lst, body_object())
    return json_response(user_list_item(a, lst))


# --- groups --------------------------------------------------------------------------------------------


def group_item(group: Group) -> dict:
    # Count is null in every captured answer (list and create alike).
    return {
        "Count": None,
        "Deletable": group.deletable,
        "Name": group.name,
        "Notes": group.notes,
        "idGroup": group.id,
        "idList": group.list_id,
    }


@bp.get("/list/<int:list_id>/groups")
def groups(list_id: int):
    a = account()
    get_list(a, list_id)
    return paged([g for g in a.groups.values() if g.list_id == list_id], group_item)


@bp.post("/list/<int:list_id>/group")
def create_group(list_id: int):
    a = account()
    get_list(a, list_id)
    data = body_object()
    deletable = get_ci(data, "Deletable")
    group = state().create_group(
        a,
        list_id,
        _check_name(get_ci(data, "Name")),
        get_ci(data, "Notes") or "",
        True if deletable is None else bool(deletable),
    )
    return json_response(group_item(group))


@bp.put("/list/<int:list_id>/group/<int:group_id>")
def update_group(list_id: int, group_id: int):
    group = get_group(account(), group_id, list_id)
    data = body_object()
    if get_ci(data, "Name") is not None:
        group.name = _check_name(get_ci(data, "Name"))
    if get_ci(data, "Notes") is not None:
        group.notes = str(get_ci(data, "Notes"))
    if get_ci(data, "Deletable") is not None:
        group.deletable = bool(get_ci(data, "Deletable"))
    return json_response(group_item(group))


@bp.delete("/list/<int:list_id>/group/<int:group_id>")
def delete_group(list_id: int, group_id: int):
    a = account()
    group = get_group(a, group_id, list_id)
    if not group.deletable:
        raise ApiError(400, f"Group {group_id} is not deletable")
    del a.groups[group_id]
    for r in a.recipients.values():
        r.groups.discard(group_id)
    return empty()


@bp.delete("/list/<int:list_id>/group/<int:group_id>/recipients")
@bp.delete("/list/<int:list_id>/group/<int:group_id>/recipient")
def empty_group(list_id: int, group_id: int):
    a = account()
    get_group(a, group_id, list_id)
    removed = 0
    for r in a.recipients.values():
        if group_id in r.groups:
            r.groups.discard(group_id)
            removed += 1
    return json_response({"Removed": removed})


# --- personal fields -----------------------------------------------------------------------------------


@bp.get("/recipient/dynamicfields")
def dynamic_fields():
    a = account()
    # Newest first, as a real account answers without orderby (hence the docs' orderby="Id+asc").
    fields = [{"Description": desc, "Id": fid} for fid, desc in sorted(a.fields.items(), reverse=True)]
    return paged(fields)
