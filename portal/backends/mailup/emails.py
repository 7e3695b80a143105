"""Console calls about email messages and sending them (§8, §9).

Creating a message and every send are not repeatable: a lost answer or a 5xx raises MailupOutcomeUnknown
and the caller reads the sendings (`sendings`, `send_history`) before it sends again, so nobody gets a
campaign twice. Repeated sends of one message share its statistics (§9): one message per campaign.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from .api import CONSOLE, MailupApi
from .email_records import EmailDraft, Message, Sending, SendResult
from .values import format_date

QUEUES = ("Immediate", "Deferred", "Undefined")  # in progress, scheduled, not yet scheduled


class EmailCalls(MailupApi):
    def messages(self, list_id: int, **paging) -> list[Message]:
        return [
            Message.from_api(d) for d in self.items(CONSOLE, f"/Console/List/{int(list_id)}/Emails", **paging)
        ]

    def get_message(self, list_id: int, message_id: int) -> Message:
        path = f"/Console/List/{int(list_id)}/Email/{int(message_id)}"
        return Message.from_api(self.call("GET", CONSOLE, path))

    def create_message(self, list_id: int, draft: EmailDraft) -> Message:
        path = f"/Console/List/{int(list_id)}/Email"
        return Message.from_api(self.call("POST", CONSOLE, path, body=draft.to_api(int(list_id))))

    def update_message(self, list_id: int, message_id: int, draft: EmailDraft) -> Message:
        """Replaces the message's content (the full object, as the API expects on PUT, §8)."""
        path = f"/Console/List/{int(list_id)}/Email/{int(message_id)}"
        body = draft.to_api(int(list_id), int(message_id))
        return Message.from_api(self.call("PUT", CONSOLE, path, body=body))

    def send_to_group(self, group_id: int, message_id: int, *, at: datetime | None = None) -> SendResult:
        """Send the message to the group now, or at `at` (a time-zone-aware datetime)."""
        path = f"/Console/Group/{int(group_id)}/Email/{int(message_id)}/Send"
        return self._order_send(path, at)

    def send_to_list(self, list_id: int, message_id: int, *, at: datetime | None = None) -> SendResult:
        path = f"/Console/List/{int(list_id)}/Email/{int(message_id)}/Send"
        return self._order_send(path, at)

    def _order_send(self, path: str, at: datetime | None) -> SendResult:
        # The documented form is quoted, in UTC: ?datetime="2015-10-20 05:00:00Z" (§9).
        params = {"datetime": f'"{format_date(at)}"'} if at is not None else None
        return SendResult.from_api(self.call("POST", CONSOLE, path, params=params))

    def send_single(self, message_id: int, email: str, fields: Mapping[int, str] | None = None) -> SendResult:
        """The message to one address (test sends); the address joins the message's list (§9)."""
        body = {
            "Email": email,
            "idMessage": int(message_id),
            "Fields": [{"Id": fid, "Value": str(v)} for fid, v in sorted((fields or {}).items())],
        }
        return SendResult.from_api(self.call("POST", CONSOLE, "/Console/Email/Send", body=body))

    def sendings(self, queue: str = "Immediate", **paging) -> list[Sending]:
        if queue not in QUEUES:
            raise ValueError(f"queue is one of {', '.join(QUEUES)}")
        return [
            Sending.from_api(d) for d in self.items(CONSOLE, f"/Console/Email/Sendings/{queue}", **paging)
        ]

    def send_history(self, list_id: int, message_id: int, **paging) -> list[Sending]:
        path = f"/Console/List/{int(list_id)}/Email/{int(message_id)}/SendHistory"
        return [Sending.from_api(d) for d in self.items(CONSOLE, path, **paging)]

    def dispatch_sending(self, sending_id: int) -> None:
        """Send a queued sending as soon as possible (a confirmation request an import queued, §7.6)."""
        self.call("POST", CONSOLE, f"/Console/Email/Sendings/{int(sending_id)}/Immediate")

    def stop_sending(self, sending_id: int) -> None:
        """Stop a queued or scheduled sending (MailUp allows about one stop or delete per 30 s, §14)."""
        self.call("POST", CONSOLE, f"/Console/Email/Sendings/{int(sending_id)}/Stop", repeatable=True)

    def delete_sending(self, sending_id: int) -> None:
        self.call("DELETE", CONSOLE, f"/Console/Email/Sendings/{int(sending_id)}")
