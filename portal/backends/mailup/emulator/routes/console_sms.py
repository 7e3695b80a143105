"""Console: SMS messages, SMS sending and queues (§10.1). Each delivered SMS costs one account credit."""

from __future__ import annotations

from flask import Blueprint

from .. import sendings
from ..auth import require_token
from ..model import SMS, Message
from ..timefmt import fmt
from ..util import get_ci
from ..web import ApiError, account, body_object, empty, json_response, paged, state
from .common import get_group, get_message
from .console_emails import create_message, defer, queue_listing, sending_of, update_message, when_arg

bp = Blueprint("mailup_console_sms", __name__)
bp.before_request(require_token)  # bearer token, rate limit, injected faults


def sms_item(m: Message) -> dict:
    b = m.body
    return {
        "Content": get_ci(b, "Content") or "",
        "CreationDate": fmt(m.created),
        "Fields": get_ci(b, "Fields") or [],
        "Notes": get_ci(b, "Notes") or "",
        "Subject": m.subject,
        "Tags": get_ci(b, "Tags") or [],
        "idList": m.list_id,
        "idMessage": m.id,
    }


@bp.post("/sms/list/<int:list_id>/message")
def create_sms(list_id: int):
    return json_response(sms_item(create_message(list_id, SMS, body_object())))


@bp.route("/sms/list/<int:list_id>/messages", methods=["GET", "POST"])
def list_sms(list_id: int):
    """GET per the docs; POST too, as the migration table lists it."""
    a = account()
    return paged([m for m in a.messages.values() if m.channel == SMS and m.list_id == list_id], sms_item)


@bp.get("/sms/list/<int:list_id>/message/<int:message_id>")
def sms_detail(list_id: int, message_id: int):
    return json_response(sms_item(get_message(account(), message_id, SMS, list_id)))


@bp.put("/sms/list/<int:list_id>/message/<int:message_id>")
def update_sms(list_id: int, message_id: int):
    m = get_message(account(), message_id, SMS, list_id)
    update_message(m, body_object())
    return json_response(sms_item(m))


@bp.delete("/sms/list/<int:list_id>/message/<int:message_id>")
def delete_sms(list_id: int, message_id: int):
    a = account()
    get_message(a, message_id, SMS, list_id)
    del a.messages[message_id]
    return empty()


@bp.post("/sms/send")
def send_single_sms():
    a = account()
    data = body_object()
    try:
        message_id = int(get_ci(data, "idMessage"))
    except (TypeError, ValueError):
        raise ApiError(400, "idMessage is required") from None
    m = get_message(a, message_id, SMS)
    return json_response(sendings.response(sendings.send_single_sms(state(), a, m, data), with_id=False))


@bp.post("/sms/list/<int:list_id>/message/<int:message_id>/send")
def send_sms_to_list(list_id: int, message_id: int):
    a = account()
    m = get_message(a, message_id, SMS, list_id)
    return json_response(sendings.response(sendings.order(state(), a, m, when=when_arg())))


@bp.post("/sms/group/<int:group_id>/message/<int:message_id>/send")
def send_sms_to_group(group_id: int, message_id: int):
    a = account()
    group = get_group(a, group_id)
    m = get_message(a, message_id, SMS, group.list_id)
    return json_response(sendings.response(sendings.order(state(), a, m, group_id=group_id, when=when_arg())))


@bp.get("/sms/sendings/<which>")
def sms_queue(which: str):
    return queue_listing(SMS, which)


@bp.post("/sms/sendings/<int:sending_id>/immediate")
def sms_immediate(sending_id: int):
    sendings.reschedule(state(), sending_of(SMS, sending_id), "Immediate")
    return empty()


@bp.post("/sms/sendings/<int:sending_id>/deferred")
def sms_defer(sending_id: int):
    return defer(SMS, sending_id)


@bp.get("/sms/<int:message_id>/sendings/report")
def sms_report(message_id: int):
    """SMS statistics (one source only, §10.1): what was handed over for the message."""
    a = account()
    get_message(a, message_id, SMS)
    rows = [d for d in a.deliveries if d.message_id == message_id and d.channel == SMS]
    return json_response(
        {"IdMessage": message_id, "Sent": len(rows), "Sendings": len({d.sending_id for d in rows})}
    )


@bp.get("/sms/<int:message_id>/sendings/reportdetails")
def sms_report_details(message_id: int):
    a = account()
    get_message(a, message_id, SMS)
    rows = [d for d in a.deliveries if d.message_id == message_id and d.channel == SMS]
    return paged(
        rows,
        lambda d: {
            "IdRecipient": d.recipient_id,
            "IdSending": d.sending_id,
            "Number": d.address,
            "SentDate": fmt(d.at),
        },
    )
