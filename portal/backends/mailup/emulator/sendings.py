"""Send orders and what the emulator "delivers" (§9, §10): one Delivery row per recipient per sending.

The audience is computed when a sending is dispatched (now, or when its scheduled time comes): the
recipients subscribed on the message's channel to the list (of the group, for a group send), which
excludes everyone unsubscribed by a bounce, complaint or opt-out. Email and mobile are unique per account,
so a recipient is never counted twice. Each SMS costs one credit; without credits it stays unprocessed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import recipients as rec
from .model import EMAIL, SMS, SUBSCRIBED, Account, Delivery, Message, Sending, mobile_key
from .timefmt import fmt
from .util import get_ci

if TYPE_CHECKING:
    from .state import EmulatorState

QUEUED = ("Undefined", "Immediate", "Deferred")


class SendError(ValueError):
    """A send order the API refuses (400)."""


def _audience(account: Account, sending: Sending) -> list:
    channel = sending.channel
    if sending.target == "list":
        return rec.members(account, sending.list_id, channel, SUBSCRIBED)
    if sending.target == "group":
        return [
            r
            for r in rec.group_members(account, sending.group_id)
            if (sub := r.subs(channel).get(sending.list_id)) is not None and sub.status == SUBSCRIBED
        ]
    found = [account.recipients[i] for i in sending.recipient_ids if i in account.recipients]
    if sending.target == "confirmation":  # only those still waiting for it
        return [r for r in found if (s := r.email_subs.get(sending.list_id)) and s.status == "Pending"]
    return found


def dispatch(state: EmulatorState, account: Account, sending: Sending) -> None:
    now = state.now()
    delivered = 0
    sender = _sender(account, sending) if sending.channel != SMS else ("", "")
    for r in _audience(account, sending):
        if sending.channel == SMS:
            address = mobile_key(r.mobile_prefix, r.mobile_number)
            if account.sms_credits <= 0:
                sending.unprocessed.append(address)
                continue
            account.sms_credits -= 1
        else:
            address = r.email
        account.deliveries.append(
            Delivery(sending.id, sending.message_id, r.id, address, sending.channel, now, *sender)
        )
        delivered += 1
    sending.delivered += delivered
    sending.status = "Sent"
    sending.sent_at = now
    state.dirty = True


def _sender(account: Account, sending: Sending) -> tuple[str, str]:
    """The list's sender settings at dispatch time (name, address), whatever their key casing."""
    lst = account.lists.get(sending.list_id)
    settings = lst.settings if lst is not None else {}
    return str(get_ci(settings, "NLSenderName") or ""), str(get_ci(settings, "ReplyTo") or "")


def order(
    state: EmulatorState,
    account: Account,
    message: Message,
    *,
    group_id: int | None = None,
    when: float | None = None,
) -> Sending:
    """A list or group send, now or at `when`; an immediate one is dispatched before the answer."""
    target = "group" if group_id is not None else "list"
    sending = account.new_sending(
        state.now(), message.id, message.list_id, target, channel=message.channel, group_id=group_id
    )
    if when is not None and when > state.now():
        sending.status, sending.scheduled = "Deferred", when
    else:
        dispatch(state, account, sending)
    return sending


def send_single_email(state: EmulatorState, account: Account, message: Message, body: dict) -> Sending:
    """`POST /Console/Email/Send`: the address joins the message's list if it is new; an invalid one is
    reported in InvalidRecipients, an unsubscribed or pending one in UnprocessedRecipients."""
    email = get_ci(body, "Email")
    sending = account.new_sending(state.now(), message.id, message.list_id, "single", channel=EMAIL)
    if not rec.valid_email(email):
        sending.invalid.append(str(email))
        sending.status, sending.sent_at = "Sent", state.now()
        return sending
    r, _ = rec.upsert(account, {"Email": email, "Fields": get_ci(body, "Fields") or []}, EMAIL)
    if message.list_id not in r.email_subs:
        rec.subscribe(state, r, message.list_id, EMAIL)
    if r.email_subs[message.list_id].status != SUBSCRIBED:
        sending.unprocessed.append(r.email)
    else:
        sending.recipient_ids = [r.id]
    dispatch(state, account, sending)
    return sending


def send_single_sms(state: EmulatorState, account: Account, message: Message, body: dict) -> Sending:
    """`POST /Console/Sms/Send`: auto-subscribes the number to the list's SMS channel."""
    number = str(get_ci(body, "Number") or "").strip()
    prefix = str(get_ci(body, "Prefix") or "").strip()
    sending = account.new_sending(state.now(), message.id, message.list_id, "single", channel=SMS)
    if not number.lstrip("+").isdigit():
        sending.invalid.append(prefix + number)
        sending.status, sending.sent_at = "Sent", state.now()
        return sending
    r, _ = rec.upsert(
        account,
        {"MobilePrefix": prefix, "MobileNumber": number, "Fields": get_ci(body, "Fields") or []},
        SMS,
    )
    if message.list_id not in r.sms_subs:
        rec.subscribe(state, r, message.list_id, SMS)
    if r.sms_subs[message.list_id].status != SUBSCRIBED:
        sending.unprocessed.append(mobile_key(r.mobile_prefix, r.mobile_number))
    else:
        sending.recipient_ids = [r.id]
    dispatch(state, account, sending)
    return sending


def response(sending: Sending, *, with_id: bool = True) -> dict:
    """MailMessageSendResponse (`Id` is the sending id; the SMS single send answers without it)."""
    out = {
        "Id": sending.id,
        "InvalidRecipients": list(sending.invalid),
        "Sent": sending.delivered,
        "UnprocessedRecipients": list(sending.unprocessed),
        "idMessage": sending.message_id,
    }
    if not with_id:
        del out["Id"]
    return out


def item(account: Account, sending: Sending) -> dict:
    """A sending in the queues and the send history (not documented; the emulator's shape)."""
    message = account.messages.get(sending.message_id) if sending.message_id else None
    return {
        "Id": sending.id,
        "idList": sending.list_id,
        "idMessage": sending.message_id,
        "idGroup": sending.group_id,
        "Subject": message.subject if message else "Confirmation request",
        "Status": sending.status,
        "CreationDate": fmt(sending.created),
        "StartDate": fmt(sending.sent_at or sending.scheduled),
        "Sent": sending.delivered,
    }


def queue(account: Account, channel: str, status: str) -> list[Sending]:
    return [s for s in account.sendings.values() if s.channel == channel and s.status == status]


def reschedule(state: EmulatorState, sending: Sending, status: str, when: float | None = None) -> None:
    if sending.status not in QUEUED:
        raise SendError(f"sending {sending.id} is {sending.status.lower()}, not queued")
    if status == "Deferred" and (when is None or when <= state.now()):
        status, when = "Immediate", None
    sending.status, sending.scheduled = status, when
