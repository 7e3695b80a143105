"""Plain records the client returns and takes, read from and written to MailUp's DTOs with the exact key
casing of the reference (§4.4): lower-case `idList`, `idGroup`, `idRecipient`, `idMessage`, `idImport` on
console DTOs; `IdList`, `ListGuid`, `IdMessage`, `IdRecipient` on statistics items and current list DTOs.
Where the reference shows two spellings for the same DTO (lists: `IdList` and `idList`; the two import
status resources) both are read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

FIELD_IDS = range(1, 40)  # personal fields 1..39 (§7.1)
FIELD_MAX = 200  # nvarchar(200)


def _int(value) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(str(value).strip().strip('"'))
    except ValueError:
        return None


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _pick(data: Mapping, *keys, default=None):
    for key in keys:
        if key in data and data[key] is not None:
            return data[key]
    return default


_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$",
    re.I,
)


def parse_date(text) -> datetime | None:
    """A date in the forms MailUp writes (§4.4, §15.2): `2020-01-27 10:05:53Z`, `2020-01-27 10:38:00.000`
    (UTC), `2012-09-12T11:18:37.664+02`; None when empty or unreadable."""
    m = _DATE.match(str(text or "").strip().strip('"'))
    if not m:
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    tz = UTC
    if zone and zone.upper() != "Z":
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        tz = timezone(offset if zone[0] == "+" else -offset)
    micro = int((frac or "0").ljust(6, "0")[:6])
    return datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micro, tzinfo=tz)


def format_date(when: datetime) -> str:
    """`yyyy-MM-dd HH:mm:ssZ` in UTC (the wrapper's DEFAULT_DATETIME_FRMT, §4.4). A naive datetime is
    refused: a send time must not depend on the server's time zone."""
    if when.tzinfo is None:
        raise ValueError("a send time needs a time zone")
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@dataclass(frozen=True)
class AccountInfo:
    uid: str
    username: str
    company: str
    console_url: str
    is_trial: bool
    expiry_date: str | None
    version: str
    account_name: str | None  # set only on reseller-plan accounts

    @classmethod
    def from_api(cls, d: Mapping) -> AccountInfo:
        return cls(
            uid=str(d.get("UID") or ""),
            username=str(d.get("Username") or ""),
            company=str(d.get("Company") or ""),
            console_url=str(d.get("Url") or ""),
            is_trial=_flag(d.get("IsTrial")),
            expiry_date=d.get("ExpiryDate"),
            version=str(d.get("Version") or ""),
            account_name=d.get("AccountName"),
        )


@dataclass(frozen=True)
class MailList:
    id: int
    name: str
    guid: str
    description: str = ""

    @classmethod
    def from_api(cls, d: Mapping) -> MailList:
        return cls(
            id=_int(_pick(d, "IdList", "idList")),
            name=str(d.get("Name") or ""),
            guid=str(_pick(d, "ListGuid", "listGUID", "ListGUID", default="")),
            description=str(d.get("Description") or ""),
        )


@dataclass(frozen=True)
class NewList:
    """The mandatory sender details of a new list (§5.2); `settings` adds any optional ones by their
    MailUp names (TimeZoneCode, HeaderListUnsubscriber, …). Settings are copied from list 1 unless
    `copy_settings_from` names another list."""

    name: str
    owner_email: str
    reply_to: str
    sender_name: str
    company_name: str
    contact_name: str
    address: str
    city: str
    country_code: str
    permission_reminder: str
    website_url: str
    business: bool = True
    customer: bool = True
    description: str = ""
    copy_settings_from: int | None = None
    settings: Mapping[str, object] = field(default_factory=dict)

    def to_api(self) -> dict:
        if not self.name.strip() or len(self.name) > 50:
            raise ValueError("a list name has 1 to 50 characters")
        body = {
            "Name": self.name,
            "Business": self.business,
            "Customer": self.customer,
            "OwnerEmail": self.owner_email,
            "ReplyTo": self.reply_to,
            "NLSenderName": self.sender_name,
            "CompanyName": self.company_name,
            "ContactName": self.contact_name,
            "Address": self.address,
            "City": self.city,
            "CountryCode": self.country_code,
            "PermissionReminder": self.permission_reminder,
            "WebSiteUrl": self.website_url,
            "Description": self.description,
        }
        if self.copy_settings_from:
            body["IdSettings"] = self.copy_settings_from
        else:
            body["UseDefaultSettings"] = True
        return body | dict(self.settings)


@dataclass(frozen=True)
class Group:
    id: int
    list_id: int
    name: str
    notes: str = ""
    deletable: bool = True

    @classmethod
    def from_api(cls, d: Mapping) -> Group:
        return cls(
            id=_int(d.get("idGroup")),
            list_id=_int(d.get("idList")),
            name=str(d.get("Name") or ""),
            notes=str(d.get("Notes") or ""),
            deletable=_flag(d.get("Deletable", True)),
        )


@dataclass(frozen=True)
class DynamicField:
    id: int
    description: str

    @classmethod
    def from_api(cls, d: Mapping) -> DynamicField:
        return cls(id=_int(d.get("Id")), description=str(d.get("Description") or ""))


@dataclass(frozen=True)
class Recipient:
    """A ConsoleRecipientItem (§7.1). `fields` maps personal-field ids 1..39 to values."""

    email: str | None = None
    name: str = ""
    mobile_prefix: str | None = None
    mobile_number: str | None = None
    fields: Mapping[int, str] = field(default_factory=dict)
    id: int | None = None

    def to_api(self) -> dict:
        for fid, value in self.fields.items():
            if fid not in FIELD_IDS:
                raise ValueError(f"personal field ids are 1 to 39, not {fid}")
            if len(str(value)) > FIELD_MAX:
                raise ValueError(f"personal field {fid} is longer than {FIELD_MAX} characters")
        body = {
            "Email": self.email,
            "Name": self.name,
            "MobilePrefix": self.mobile_prefix,
            "MobileNumber": self.mobile_number,
            "Fields": [{"Id": fid, "Value": str(v)} for fid, v in sorted(self.fields.items())],
        }
        if self.id is not None:
            body["idRecipient"] = self.id
        return body

    @classmethod
    def from_api(cls, d: Mapping) -> Recipient:
        fields = {}
        for f in d.get("Fields") or []:
            fid = _int(f.get("Id")) if isinstance(f, Mapping) else None
            if fid is not None:
                fields[fid] = str(f.get("Value") or "")
        return cls(
            email=d.get("Email"),
            name=str(d.get("Name") or ""),
            mobile_prefix=d.get("MobilePrefix"),
            mobile_number=d.get("MobileNumber"),
            fields=fields,
            id=_int(d.get("idRecipient")),
        )


@dataclass(frozen=True)
class ImportStatus:
    """`/Console/Import/{id}` or the richer `/Console/Imports/{id}` (§7.7); both spellings are read."""

    id: int
    completed: bool
    created: int = 0
    updated: int = 0
    valid: int = 0
    not_valid: int = 0
    imported: int = 0

    @classmethod
    def from_api(cls, d: Mapping) -> ImportStatus:
        if "Rows" in d or "StatusCode" in d:  # ConsoleImportDetail
            rows = d.get("Rows") or {}
            valid, invalid = rows.get("Valid") or {}, rows.get("Invalid") or {}
            created = (_int(valid.get("EmailNew")) or 0) + (_int(valid.get("NumberNew")) or 0)
            updated = (_int(valid.get("EmailUpdate")) or 0) + (_int(valid.get("NumberUpdate")) or 0)
            return cls(
                id=_int(d.get("IdImport")),
                completed=_int(d.get("StatusCode")) == 3 or bool(d.get("EndDate")),
                created=created,
                updated=updated,
                valid=_int(valid.get("Total")) or 0,
                not_valid=_int(invalid.get("Total")) or 0,
                imported=created + updated,
            )
        return cls(
            id=_int(_pick(d, "idImport", "IdImport")),
            completed=_flag(d.get("Completed")),
            created=_int(d.get("CreatedRecipients")) or 0,
            updated=_int(d.get("UpdatedRecipients")) or 0,
            valid=_int(d.get("ValidRecipients")) or 0,
            not_valid=_int(d.get("NotValidRecipients")) or 0,
            imported=_int(d.get("ImportedRecipients")) or 0,
        )


_OPTIN = ("OPTIN", "SUBSCRIBED")
_PENDING = ("PENDING",)
_OPTOUT = ("OPTOUT", "UNSUBSCRIBED")


@dataclass(frozen=True)
class Optin:
    """An item of `/Console/List/{id}/Recipients/EmailOptins` (§7.4, §19). Only `"OPTIN"` is an observed
    Status; OPTOUT/PENDING are likely, so an unknown status counts as opted out when it has an opt-out
    date. Optout_Type / Optout_Subtype are numbers whose meaning MailUp does not publish (§21.7)."""

    recipient_id: int | None
    email: str
    status: str
    optin_date: datetime | None
    optout_date: datetime | None
    optout_type: int | None
    optout_subtype: int | None
    optout_message_id: int | None

    @property
    def opted_out(self) -> bool:
        status = self.status.upper()
        if status in _OPTIN or status in _PENDING:
            return False
        return status in _OPTOUT or self.optout_date is not None

    @classmethod
    def from_api(cls, d: Mapping) -> Optin:
        return cls(
            recipient_id=_int(d.get("idRecipient")),
            email=str(d.get("Email") or ""),
            status=str(d.get("Status") or ""),
            optin_date=parse_date(d.get("Optin_Date")),
            optout_date=parse_date(d.get("Optout_Date")),
            optout_type=_int(d.get("Optout_Type")),
            optout_subtype=_int(d.get("Optout_Subtype")),
            optout_message_id=_int(d.get("Optout_MsgID")),
        )


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
            id=_int(d.get("idMessage")),
            list_id=_int(d.get("idList")),
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
            sending_id=_int(d.get("Id")),
            message_id=_int(d.get("idMessage")),
            sent=_int(d.get("Sent")) or 0,
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
            id=_int(_pick(d, "Id", "idSending", "IdSending")),
            message_id=_int(_pick(d, "idMessage", "IdMessage")),
            list_id=_int(_pick(d, "idList", "IdList")),
            group_id=_int(_pick(d, "idGroup", "IdGroup")),
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
        count = _int(d.get("Count"))
        return cls(
            kind=kind,
            message_id=_int(_pick(d, "IdMessage", "idMessage")) or message_id,
            recipient_id=_int(_pick(d, "IdRecipient", "idRecipient")),
            email=str(d.get("Email") or ""),
            count=1 if count is None else count,
            url=str(d.get("Url") or ""),
            bounce_type=str(d.get("Type") or ""),
        )
