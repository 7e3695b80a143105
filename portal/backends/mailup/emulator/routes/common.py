"""Lookups every console area needs: a record of the calling account, or MailUp's 404."""

from __future__ import annotations

from ..model import Account, Group, MailList, Message, Recipient
from ..web import ApiError


def get_list(account: Account, list_id: int) -> MailList:
    found = account.lists.get(list_id)
    if found is None:
        raise ApiError(404, f"List {list_id} not found")
    return found


def get_group(account: Account, group_id: int, list_id: int | None = None) -> Group:
    found = account.groups.get(group_id)
    if found is None or (list_id is not None and found.list_id != list_id):
        raise ApiError(404, f"Group {group_id} not found")
    return found


def get_message(account: Account, message_id: int, channel: str, list_id: int | None = None) -> Message:
    found = account.messages.get(message_id)
    if found is None or found.channel != channel or (list_id is not None and found.list_id != list_id):
        raise ApiError(404, f"Message {message_id} not found")
    return found


def get_recipient(account: Account, recipient_id: int) -> Recipient:
    found = account.recipients.get(recipient_id)
    if found is None:
        raise ApiError(404, f"Recipient {recipient_id} not found")
    return found
