"""Plain records of email messages, sends and statistics (§8, §9, §12), with the exact key casing of the
reference (§4.4): lower-case `idList`, `idMessage` on console DTOs, capitalised `IdMessage`,
`IdRecipient` on statistics items (read under both casings where the reference is not sure).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .values import parse_date, pick, to_int


@dataclass(frozen=True)
class EmailDraft:
    """What a new or updated email message holds (§8). Merge tags are disabled unless `field_defaults`
    gives at least one default or `use_dynamic_fields` is set (§8). Link tracking rewrites every
    http/https link (the account's tracking domain is set on the account, not here)."""

    subject: str
    html: str
    notes: str = ""
    preheader: str = ""
    field_defaults: Mapping[int, str] = field(default_factory=dict)
    use_dynamic_fields: bool = False
    embed: bool = False
    is_confirmation: bool = False
    tracking: bool = True
    tracking_params: str = ""

    def to_api(self, list_id: int, message_id: int | None = None) -> dict:
        if not self.subject.strip():
            raise ValueError("a message needs a subject")
        body = {
            "Subject": self.subject,
            "idList": list_id,
            "Content": self.html,
            "Embed": self.embed,
            "IsConfirmation": self.is_confirmation,
            "Fields": [
                {"Description": "", "Id": fid, "Value": str(v)}
                for fid, v in sorted(self.field_defaults.items())
            ],
            "Notes": self.notes,
            "Tags": None,
            "TrackingInfo": {
                "CustomParams": self.tracking_params,
                "Enabled": self.tracking,
                "Protocols": ["http:", "https:"],
            },
            "UseDynamicField": self.use_dynamic_fields or bool(self.field_defaults),
            "PreHeader": self.preheader,
        }
        if message_id is not None:
            body["idMessage"] = message_id
        return body


@dataclass(frozen=True)
class Message:
    id: int
    list_id: int
    subject: str
    notes: str = ""
    created: datetime | None = None

    @classmethod
    def from_api(cls, d: Mapping) -> Message:
        return cls(
            id=to_int(d.get("idMessage")),
            list_id=to_int(d.get("idList")),
            subject=str(d.get("Subject") or ""),
            notes=str(d.get("Notes") or ""),
            created=parse_date(d.get("CreationDate")),
        )


@dataclass(frozen=True)
class SendResult:
    """MailMessageSendResponse (§9): `sending_id` is `Id` (inferred; absent in some answers)."""

    sending_id: int | None
    message_id: int | None
    sent: int
    invalid: tuple[str, ...]
    unprocessed: tuple[str, ...]

    @classmethod
    def from_api(cls, d: Mapping) -> SendResult:
        return cls(
            sending_id=to_int(d.get("Id")),
            message_id=to_int(d.get("idMessage")),
            sent=to_int(d.get("Sent")) or 0,
            invalid=tuple(str(x) for x in d.get("InvalidRecipients") or ()),
            unprocessed=tuple(str(x) for x in d.get("UnprocessedRecipients") or ()),
        )


@dataclass(frozen=True)
class Sending:
    """An item of the sending queues or a message's send history. Its shape is not documented: the ids
    are read under both casings and the whole item is kept in `raw`."""

    id: int | None
    message_id: int | None
    list_id: int | None
    group_id: int | None
    status: str
    raw: Mapping

    @classmethod
    def from_api(cls, d: Mapping) -> Sending:
        return cls(
            id=to_int(pick(d, "Id", "idSending", "IdSending")),
            message_id=to_int(pick(d, "idMessage", "IdMessage")),
            list_id=to_int(pick(d, "idList", "IdList")),
            group_id=to_int(pick(d, "idGroup", "IdGroup")),
            status=str(d.get("Status") or ""),
            raw=dict(d),
        )


@dataclass(frozen=True)
class StatRow:
    """One row of a per-message statistics list (§12): who (recipient id, address), how many times
    (`count`: opens or clicks per recipient, clicks per URL), and for clicks per URL the `url` (which may
    be a label such as "Unsubscribe"), for bounces MailUp's `bounce_type` string."""

    kind: str
    message_id: int | None
    recipient_id: int | None
    email: str
    count: int = 1
    url: str = ""
    bounce_type: str = ""

    @classmethod
    def from_api(cls, kind: str, message_id: int, d: Mapping) -> StatRow:
        count = to_int(d.get("Count"))
        return cls(
            kind=kind,
            message_id=to_int(pick(d, "IdMessage", "idMessage")) or message_id,
            recipient_id=to_int(pick(d, "IdRecipient", "idRecipient")),
            email=str(d.get("Email") or ""),
            count=1 if count is None else count,
            url=str(d.get("Url") or ""),
            bounce_type=str(d.get("Type") or ""),
        )
