"""The emulator's records: plain dataclasses, dumped to and loaded from JSON by type hints.

One `Account` holds everything a MailUp account holds; ids are per account (every account has a list 1),
so two accounts in one emulator never see each other's records.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field

EMAIL = "email"
SMS = "sms"

SUBSCRIBED = "Subscribed"
UNSUBSCRIBED = "Unsubscribed"
PENDING = "Pending"

# Optout_Type values the emulator writes (the real numeric meanings are not documented, reference §19).
OPTOUT_ADMIN = 1  # console/API/import as unsubscribed
OPTOUT_LINK = 2  # the recipient's own unsubscribe (link, List-Unsubscribe, frontend page)
OPTOUT_BOUNCE = 3  # hard bounce, or the soft-bounce limit
OPTOUT_COMPLAINT = 4  # feedback-loop complaint

# The 27 personal fields every new account has (Ids and names as a real account's Recipient/Detail shows).
STANDARD_FIELDS = (
    "nome cognome azienda città provincia cap regione paese indirizzo fax telefono IDCliente IDUltimoOrdine "
    "DataUltimoOrdine TotaleUltimoOrdine IDProdottiUltimoOrdine IDCategorieUltimoOrdine "
    "DataUltimoOrdineSpedito IDUltimoOrdineSpedito DataCarrelloAbbandonato TotaleCarrelloAbbandonato "
    "IDCarrelloAbbandonato TotaleFatturato TotaleFatturatoUltimi12Mesi TotaleFatturatoUltimi30gg "
    "IDTuttiProdottiAcquistati Compleanno"
).split()
MAX_FIELD_ID = 39


@dataclass
class Subscription:
    """One recipient on one channel of one list."""

    status: str
    optin_date: float | None = None
    optin_request_date: float | None = None
    optin_request_ip: str | None = None
    optout_date: float | None = None
    optout_type: int | None = None
    optout_subtype: int | None = None
    optout_msgid: int | None = None


@dataclass
class Recipient:
    id: int
    email: str | None = None
    name: str = ""
    mobile_prefix: str | None = None
    mobile_number: str | None = None
    fields: dict[int, str] = field(default_factory=dict)
    email_subs: dict[int, Subscription] = field(default_factory=dict)
    sms_subs: dict[int, Subscription] = field(default_factory=dict)
    groups: set[int] = field(default_factory=set)
    # Set by a hard bounce or a complaint: forced opt-in never re-subscribes such an address (§19).
    blocked: str | None = None
    soft_bounces: int = 0

    def subs(self, channel: str) -> dict[int, Subscription]:
        return self.email_subs if channel == EMAIL else self.sms_subs


@dataclass
class MailList:
    id: int
    guid: str
    name: str
    settings: dict = field(default_factory=dict)  # every other key of the create/update body, echoed back
    created: float = 0.0


@dataclass
class Group:
    id: int
    list_id: int
    name: str
    notes: str = ""
    deletable: bool = True


@dataclass
class Message:
    """An email (channel email) or SMS (channel sms) message of one list."""

    id: int
    list_id: int
    channel: str
    subject: str
    created: float
    body: dict = field(default_factory=dict)  # the create/update body as sent, echoed on read
    online: bool = False
    archived: bool = False


@dataclass
class Sending:
    """One send order: to a list, a group, one address, or an import's confirmation request."""

    id: int
    channel: str
    message_id: int | None
    list_id: int
    target: str  # "list" | "group" | "single" | "confirmation"
    created: float
    status: str = "Undefined"  # Undefined | Immediate | Deferred | Sent | Stopped
    group_id: int | None = None
    recipient_ids: list[int] = field(default_factory=list)  # "single" and "confirmation" targets
    scheduled: float | None = None
    sent_at: float | None = None
    delivered: int = 0
    invalid: list[str] = field(default_factory=list)
    unprocessed: list[str] = field(default_factory=list)


@dataclass
class Delivery:
    """What the emulator "delivered": one message handed to one recipient by one sending."""

    sending_id: int
    message_id: int | None
    recipient_id: int
    address: str
    channel: str
    at: float
    # The sender it went out with: the list's NLSenderName and ReplyTo when it was dispatched (§5.2: a
    # REST message has no sender of its own). Empty for SMS and in state files older than these fields.
    sender_name: str = ""
    sender_email: str = ""


@dataclass
class Event:
    """A simulated recipient event on a message (delivery, view, click, bounce, complaint, unsubscribe)."""

    id: int
    kind: str
    message_id: int
    recipient_id: int
    address: str
    at: float
    url: str | None = None
    bounce_type: str | None = None


@dataclass
class Import:
    id: int
    list_id: int
    channel: str
    items: list[dict]
    options: dict
    created: float
    group_id: int | None = None
    polls: int = 0
    completed: bool = False
    completed_at: float | None = None
    counts: dict = field(default_factory=dict)
    sending_id: int | None = None


@dataclass
class Account:
    username: str
    password: str
    client_id: str
    client_secret: str
    uid: int
    company: str = "Emulated company"
    console_host: str = ""
    sms_credits: int = 1000
    fields: dict[int, str] = field(default_factory=dict)
    lists: dict[int, MailList] = field(default_factory=dict)
    groups: dict[int, Group] = field(default_factory=dict)
    recipients: dict[int, Recipient] = field(default_factory=dict)
    messages: dict[int, Message] = field(default_factory=dict)
    sendings: dict[int, Sending] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    imports: dict[int, Import] = field(default_factory=dict)
    tags: dict[int, dict[int, dict]] = field(default_factory=dict)  # list id -> tag id -> {Name, Enabled}
    counters: dict[str, int] = field(default_factory=dict)
    frontend_ip_check: bool = False
    frontend_ips: set[str] = field(default_factory=set)
    by_email: dict[str, int] = field(default_factory=dict, metadata={"transient": True})
    by_mobile: dict[str, int] = field(default_factory=dict, metadata={"transient": True})

    def next_id(self, kind: str) -> int:
        self.counters[kind] = self.counters.get(kind, 0) + 1
        return self.counters[kind]

    def new_sending(self, now: float, message_id, list_id: int, target: str, **kw) -> Sending:
        sending = Sending(
            self.next_id("sending"), kw.pop("channel", EMAIL), message_id, list_id, target, now, **kw
        )
        self.sendings[sending.id] = sending
        return sending

    def reindex(self) -> None:
        self.by_email = {r.email.lower(): r.id for r in self.recipients.values() if r.email}
        self.by_mobile = {
            mobile_key(r.mobile_prefix, r.mobile_number): r.id
            for r in self.recipients.values()
            if r.mobile_number
        }


def mobile_key(prefix: str | None, number: str | None) -> str:
    """Mobile numbers are unique per account whatever the prefix spelling ("+39" and "0039" are one)."""
    p = (prefix or "").strip().replace(" ", "")
    if p.startswith("+"):
        p = "00" + p[1:]
    return p + (number or "").strip().replace(" ", "")


# --- JSON (de)serialisation driven by the annotations -------------------------------------------------


def dump(obj):
    if dataclasses.is_dataclass(obj):
        return {
            f.name: dump(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if not f.metadata.get("transient")
        }
    if isinstance(obj, dict):
        return {str(k): dump(v) for k, v in obj.items()}
    if isinstance(obj, set | list | tuple):
        return [dump(v) for v in (sorted(obj) if isinstance(obj, set) else obj)]
    return obj


def load(tp, data):
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        return load(next(a for a in typing.get_args(tp) if a is not type(None)), data)
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return tp(
            **{
                f.name: load(hints[f.name], data[f.name])
                for f in dataclasses.fields(tp)
                if f.name in data and not f.metadata.get("transient")
            }
        )
    if origin is dict:
        key_t, val_t = typing.get_args(tp)
        return {key_t(k): load(val_t, v) for k, v in data.items()}
    if origin is list:
        (item_t,) = typing.get_args(tp)
        return [load(item_t, v) for v in data]
    if origin is set:
        (item_t,) = typing.get_args(tp)
        return {load(item_t, v) for v in data}
    return data
