"""Plain records the console calls return and take, read from and written to MailUp's DTOs with the exact
key casing of the reference (§4.4): lower-case `idList`, `idGroup`, `idRecipient`, `idImport` on console
DTOs; `IdList`, `ListGuid` on current list DTOs. Where the reference shows two spellings for the same DTO
(lists: `IdList` and `idList`; the two import status resources) both are read. Email and statistics
records are in email_records.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .values import flag, parse_date, pick, to_int

FIELD_IDS = range(1, 40)  # personal fields 1..39 (§7.1)
FIELD_MAX = 200  # nvarchar(200)


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
            is_trial=flag(d.get("IsTrial")),
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
            id=to_int(pick(d, "IdList", "idList")),
            name=str(d.get("Name") or ""),
            guid=str(pick(d, "ListGuid", "listGUID", "ListGUID", default="")),
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
            id=to_int(d.get("idGroup")),
            list_id=to_int(d.get("idList")),
            name=str(d.get("Name") or ""),
            notes=str(d.get("Notes") or ""),
            deletable=flag(d.get("Deletable", True)),
        )


@dataclass(frozen=True)
class DynamicField:
    id: int
    description: str

    @classmethod
    def from_api(cls, d: Mapping) -> DynamicField:
        return cls(id=to_int(d.get("Id")), description=str(d.get("Description") or ""))


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
            fid = to_int(f.get("Id")) if isinstance(f, Mapping) else None
            if fid is not None:
                fields[fid] = str(f.get("Value") or "")
        return cls(
            email=d.get("Email"),
            name=str(d.get("Name") or ""),
            mobile_prefix=d.get("MobilePrefix"),
            mobile_number=d.get("MobileNumber"),
            fields=fields,
            id=to_int(d.get("idRecipient")),
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
            created = (to_int(valid.get("EmailNew")) or 0) + (to_int(valid.get("NumberNew")) or 0)
            updated = (to_int(valid.get("EmailUpdate")) or 0) + (to_int(valid.get("NumberUpdate")) or 0)
            return cls(
                id=to_int(d.get("IdImport")),
                completed=to_int(d.get("StatusCode")) == 3 or bool(d.get("EndDate")),
                created=created,
                updated=updated,
                valid=to_int(valid.get("Total")) or 0,
                not_valid=to_int(invalid.get("Total")) or 0,
                imported=created + updated,
            )
        return cls(
            id=to_int(pick(d, "idImport", "IdImport")),
            completed=flag(d.get("Completed")),
            created=to_int(d.get("CreatedRecipients")) or 0,
            updated=to_int(d.get("UpdatedRecipients")) or 0,
            valid=to_int(d.get("ValidRecipients")) or 0,
            not_valid=to_int(d.get("NotValidRecipients")) or 0,
            imported=to_int(d.get("ImportedRecipients")) or 0,
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
            recipient_id=to_int(d.get("idRecipient")),
            email=str(d.get("Email") or ""),
            status=str(d.get("Status") or ""),
            optin_date=parse_date(d.get("Optin_Date")),
            optout_date=parse_date(d.get("Optout_Date")),
            optout_type=to_int(d.get("Optout_Type")),
            optout_subtype=to_int(d.get("Optout_Subtype")),
            optout_message_id=to_int(d.get("Optout_MsgID")),
        )
