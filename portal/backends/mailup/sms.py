"""SMS through the MailUp console (§10.1) behind the per-message seam.

A MailUp SMS always belongs to a message of a list: the text is created once as an SMS message of the
list (`POST /Console/Sms/List/{idList}/Message`) and each number is then sent it with
`POST /Console/Sms/Send {Number, Prefix, idMessage}` (the number without its country code, the prefix as
"00<code>"). Texts that differ per recipient (merge fields) make one message per distinct text, kept for
the worker's lifetime. The answer's lists say what happened to the number: `InvalidRecipients` (refused
for good), `UnprocessedRecipients` (opted out on
MailUp's side, or no credits: retried later), else sent. MailUp reports no deliveries for these sends: the portal consumes the credits of a
message when it is accepted. The sender is the list's SMS sender, set in the MailUp console (§10.1).
Errors never name the provider (they may reach the client's report).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import phonenumbers

from ..base import BackendUnavailable, OutgoingMessage, RecipientRefused, TryLater, Withdrawn
from .api import CONSOLE
from .client import MailupClient
from .errors import MailupRequestRefused

MAX_CACHED_TEXTS = 500


def split_number(e164: str) -> tuple[str, str]:
    """("0039", "3471234567") for "+393471234567"; RecipientRefused for what is not a number."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException as exc:
        raise RecipientRefused("not an international phone number", bounce=False) from exc
    national = phonenumbers.national_significant_number(parsed)
    return f"00{parsed.country_code}", national


class MailupSms:
    lanes = 1  # `ready` is asked before the request; one instance also keeps one message per text

    def __init__(self, client: MailupClient, list_id: int):
        self.client, self.list_id = client, int(list_id)
        self._messages: dict[str, int] = {}

    def supports_utf8_addresses(self) -> bool:
        return False

    def _message_for(self, text: str) -> int:
        key = hashlib.sha256(text.encode()).hexdigest()
        if key not in self._messages:
            if len(self._messages) >= MAX_CACHED_TEXTS:
                self._messages.clear()
            answer = self.client.call(
                "POST",
                CONSOLE,
                f"/Console/Sms/List/{self.list_id}/Message",
                body={"Subject": f"sms-{key[:12]}", "Content": text, "idList": self.list_id, "Fields": []},
            )
            try:
                self._messages[key] = int(answer["idMessage"])
            except (KeyError, TypeError, ValueError) as exc:
                raise BackendUnavailable("the SMS service gave an unreadable answer") from exc
        return self._messages[key]

    def send(self, message: OutgoingMessage, ready: Callable[[], bool] | None = None) -> str:
        text = message.payload.decode() if isinstance(message.payload, bytes) else message.payload
        prefix, number = split_number(message.recipient)
        message_id = self._message_for(text)
        if ready is not None and not ready():  # the request is the point of no return
            raise Withdrawn("the message was withdrawn before delivery")
        try:
            answer = self.client.call(
                "POST",
                CONSOLE,
                "/Console/Sms/Send",
                body={"Number": number, "Prefix": prefix, "idMessage": message_id},
            )
        except MailupRequestRefused as exc:
            raise RecipientRefused(
                f"the SMS service refused this number (HTTP {exc.status})", bounce=False
            ) from exc
        if not isinstance(answer, dict):
            raise BackendUnavailable("the SMS service gave an unreadable answer")
        if answer.get("InvalidRecipients"):
            raise RecipientRefused("the SMS service refused this number as invalid", bounce=False)
        if answer.get("UnprocessedRecipients"):
            # Per number: opted out on the provider's side, or the account is out of credits. Retried a
            # few times (the delivery loop's deferrals), then failed and its credits released.
            raise TryLater("the SMS service did not process this number (opted out there, or no credits)")
        return f"sms-{message_id}-{prefix}{number}"

    def close(self) -> None:
        self._messages.clear()
