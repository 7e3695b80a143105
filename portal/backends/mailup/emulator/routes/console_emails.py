"""Console: email messages, list tags, sending email and the sending queues (§8, §9)."""

from __future__ import annotations

from flask import Blueprint

from .. import sendings, timefmt
from ..auth import require_token
from ..model import EMAIL, Message
from ..sendings import SendError
from ..util import get_ci
from ..web import ApiError, account, arg, body, body_object, empty, json_response, paged, state
from .common import get_group, get_list, get_message

bp = Blueprint("mailup_console_emails", __name__)
bp.before_request(require_token)  # bearer token, rate limit, injected faults


def message_item(m: Message) -> dict:
    return {
        "CreationDate": timefmt.fmt(m.created),
        "Notes": get_ci(m.body, "Notes") or "",
        "Subject": m.subject,
        "idList": m.list_id,
        "idMessage": m.id,
        "ServiceType": 0,
    }


def message_detail(m: Message) -> dict:
    b = m.body
    return {
        "Attachments": [],
        "Content": get_ci(b, "Content") or "",
        "CreationDate": timefmt.fmt(m.created),
        "Embed": bool(get_ci(b, "Embed")),
        "Fields": get_ci(b, "Fields") or [],
        "IsConfirmation": bool(get_ci(b, "IsConfirmation")),
        "Notes": get_ci(b, "Notes") or "",
        "PreHeader": get_ci(b, "PreHeader"),
        "Subject": m.subject,
        "Tags": get_ci(b, "Tags") or [],
        "TrackingInfo": get_ci(b, "TrackingInfo")
        or {"CustomParams": "", "Enabled": True, "Protocols": ["http:", "https:"]},
        "UseDynamicField": bool(get_ci(b, "UseDynamicField")),
        "idList": m.list_id,
        "idMessage": m.id,
    }


def _check_tags(list_id: int, data: dict) -> None:
    """Referenced tags must exist in the list first (§8)."""
    known = account().tags.get(list_id, {})
    for tag in get_ci(data, "Tags") or []:
        tid = get_ci(tag, "Id") if isinstance(tag, dict) else None
        if tid is None or int(tid) not in known:
            raise ApiError(400, f"Tag {tid} does not exist in list {list_id}")


def create_message(list_id: int, channel: str, data: dict) -> Message:
    a = account()
    get_list(a, list_id)
    subject = get_ci(data, "Subject")
    if not isinstance(subject, str) or not subject.strip():
        raise ApiError(400, "Subject is required")
    _check_tags(list_id, data)
    stored = {k: v for k, v in data.items() if k.lower() not in ("idmessage", "idlist", "subject")}
    m = Message(a.next_id("message"), list_id, channel, subject, state().now(), stored)
    a.messages[m.id] = m
    return m


def update_message(m: Message, data: dict) -> None:
    _check_tags(m.list_id, data)
    subject = get_ci(data, "Subject")
    if subject is not None:
        if not str(subject).strip():
            raise ApiError(400, "Subject is required")
        m.subject = str(subject)
    for key, value in data.items():
        if key.lower() not in ("idmessage", "idlist", "subject"):
            existing = next((k for k in m.body if k.lower() == key.lower()), key)
            m.body[existing] = value


# --- messages ------------------------------------------------------------------------------------------


def _emails(list_id: int | None, *, online=None, archived=None):
    a = account()
    if list_id is not None:
        get_list(a, list_id)
    wanted = {t.strip().lower() for t in (arg("tags") or "").split(",") if t.strip()}
    found = []
    for m in a.messages.values():
        if m.channel != EMAIL or (list_id is not None and m.list_id != list_id):
            continue
        if (online is not None and m.online != online) or (archived is not None and m.archived != archived):
            continue
        names = {
            str(get_ci(t, "Name") or "").lower() for t in get_ci(m.body, "Tags") or [] if isinstance(t, dict)
        }
        if wanted and not wanted & names:
            continue
        found.append(m)
    return paged(found, message_item)


@bp.get("/list/<int:list_id>/emails")
def list_emails(list_id: int):
    return _emails(list_id)


@bp.get("/list/<int:list_id>/online/emails")
def online_emails(list_id: int):
    return _emails(list_id, online=True)


@bp.get("/list/<int:list_id>/archived/emails")
def archived_emails(list_id: int):
    return _emails(list_id, archived=True)


@bp.get("/user/emails")
def user_emails():
    return _emails(None)


@bp.post("/list/<int:list_id>/email")
def create_email(list_id: int):
    return json_response(message_detail(create_message(list_id, EMAIL, body_object())))


@bp.get("/list/<int:list_id>/email/<int:message_id>")
def email_detail(list_id: int, message_id: int):
    return json_response(message_detail(get_message(account(), message_id, EMAIL, list_id)))


@bp.post("/list/<int:list_id>/email/<int:message_id>")
def clone_email(list_id: int, message_id: int):
    a = account()
    original = get_message(a, message_id, EMAIL, list_id)
    m = Message(a.next_id("message"), list_id, EMAIL, original.subject, state().now(), dict(original.body))
    a.messages[m.id] = m
    return json_response(message_detail(m))


@bp.put("/list/<int:list_id>/email/<int:message_id>")
def update_email(list_id: int, message_id: int):
    m = get_message(account(), message_id, EMAIL, list_id)
    update_message(m, body_object())
    return json_response(message_detail(m))


@bp.put("/list/<int:list_id>/email/<int:message_id>/online/visibility")
def email_visibility(list_id: int, message_id: int):
    m = get_message(account(), message_id, EMAIL, list_id)
    visible = body(None)
    if not isinstance(visible, bool):
        raise ApiError(400, "The body must be a JSON boolean")
    m.online = visible
    return empty()


@bp.delete("/list/<int:list_id>/email/<int:message_id>")
def delete_email(list_id: int, message_id: int):
    a = account()
    get_message(a, message_id, EMAIL, list_id)
    del a.messages[message_id]
    return empty()


# --- tags ----------------------------------------------------------------------------------------------


def _tag_item(tid: int, tag: dict) -> dict:
    return {"Enabled": tag["Enabled"], "Id": tid, "Name": tag["Name"]}


@bp.get("/list/<int:list_id>/tags")
def tags(list_id: int):
    a = account()
    get_list(a, list_id)
    return paged([_tag_item(t, v) for t, v in sorted(a.tags.get(list_id, {}).items())])


@bp.post("/list/<int:list_id>/tag")
def create_tag(list_id: int):
    """The body is a bare JSON string: the tag's name."""
    a = account()
    get_list(a, list_id)
    name = body(None)
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "The body must be the tag name as a JSON string")
    tid = a.next_id("tag")
    a.tags.setdefault(list_id, {})[tid] = {"Name": name, "Enabled": True}
    return json_response(_tag_item(tid, a.tags[list_id][tid]))


@bp.put("/list/<int:list_id>/tag/<int:tag_id>")
def update_tag(list_id: int, tag_id: int):
    tag = account().tags.get(list_id, {}).get(tag_id)
    if tag is None:
        raise ApiError(404, f"Tag {tag_id} not found")
    data = body_object()
    if get_ci(data, "Name") is not None:
        tag["Name"] = str(get_ci(data, "Name"))
    if get_ci(data, "Enabled") is not None:
        tag["Enabled"] = bool(get_ci(data, "Enabled"))
    return json_response(_tag_item(tag_id, tag))


@bp.delete("/list/<int:list_id>/tag/<int:tag_id>")
def delete_tag(list_id: int, tag_id: int):
    if account().tags.get(list_id, {}).pop(tag_id, None) is None:
        raise ApiError(404, f"Tag {tag_id} not found")
    return empty()


# --- sending -------------------------------------------------------------------------------------------


def when_arg() -> float | None:
    """`?datetime=` (UTC; quoted or not, §9): None for "now"."""
    raw = arg("datetime")
    if raw is None or not str(raw).strip().strip('"'):
        return None
    try:
        return timefmt.parse(raw)
    except ValueError as exc:
        raise SendError(str(exc)) from None


@bp.post("/list/<int:list_id>/email/<int:message_id>/send")
def send_to_list(list_id: int, message_id: int):
    a = account()
    m = get_message(a, message_id, EMAIL, list_id)
    return json_response(sendings.response(sendings.order(state(), a, m, when=when_arg())))


@bp.post("/group/<int:group_id>/email/<int:message_id>/send")
def send_to_group(group_id: int, message_id: int):
    a = account()
    group = get_group(a, group_id)
    m = get_message(a, message_id, EMAIL, group.list_id)
    return json_response(sendings.response(sendings.order(state(), a, m, group_id=group_id, when=when_arg())))


@bp.post("/email/send")
def send_single():
    a = account()
    data = body_object()
    try:
        message_id = int(get_ci(data, "idMessage"))
    except (TypeError, ValueError):
        raise ApiError(400, "idMessage is required") from None
    m = get_message(a, message_id, EMAIL)
    return json_response(sendings.response(sendings.send_single_email(state(), a, m, data)))


@bp.get("/list/<int:list_id>/email/<int:message_id>/sendhistory")
def send_history(list_id: int, message_id: int):
    a = account()
    get_message(a, message_id, EMAIL, list_id)
    done = [s for s in a.sendings.values() if s.message_id == message_id and s.status == "Sent"]
    return paged(done, lambda s: sendings.item(a, s))


def sending_of(channel: str, sending_id: int):
    s = account().sendings.get(sending_id)
    if s is None or s.channel != channel:
        raise ApiError(404, f"Sending {sending_id} not found")
    return s


def queue_listing(channel: str, which: str):
    names = {"immediate": "Immediate", "deferred": "Deferred", "undefined": "Undefined"}
    if which not in names:
        raise ApiError(404, f"Unknown sending queue {which}")
    a = account()
    return paged(sendings.queue(a, channel, names[which]), lambda s: sendings.item(a, s))


def earliest_date() -> dict:
    return {"Date": timefmt.fmt(state().now() + 60)}


def defer(channel: str, sending_id: int):
    data = body_object()
    raw = get_ci(data, "Date")
    try:
        when = timefmt.parse(raw) if raw else None
    except ValueError as exc:
        raise SendError(str(exc)) from None
    sendings.reschedule(state(), sending_of(channel, sending_id), "Deferred", when)
    return empty()


@bp.get("/email/sendings/<which>")
def email_queue(which: str):
    return queue_listing(EMAIL, which)


@bp.post("/email/sendings/<int:sending_id>/immediate")
def email_immediate(sending_id: int):
    sendings.reschedule(state(), sending_of(EMAIL, sending_id), "Immediate")
    return empty()


@bp.get("/email/sendings/<int:sending_id>/deferred")
@bp.get("/email/sending/<int:sending_id>/deferred")
def email_earliest(sending_id: int):
    sending_of(EMAIL, sending_id)
    return json_response(earliest_date())


@bp.post("/email/sendings/<int:sending_id>/deferred")
@bp.post("/email/sending/<int:sending_id>/deferred")
def email_defer(sending_id: int):
    return defer(EMAIL, sending_id)


@bp.post("/email/sendings/<int:sending_id>/stop")
def email_stop(sending_id: int):
    sendings.reschedule(state(), sending_of(EMAIL, sending_id), "Stopped")
    return empty()


@bp.delete("/email/sendings/<int:sending_id>")
def email_delete_sending(sending_id: int):
    s = sending_of(EMAIL, sending_id)
    if s.status not in sendings.QUEUED + ("Stopped",):
        raise SendError(f"sending {sending_id} was sent; it cannot be removed")
    del account().sendings[sending_id]
    return empty()
