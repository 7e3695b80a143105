"""What each compatible page does and the number it answers (reference §15.1). Every change goes
through the one sign-up path (portal/forms/optin.py) or the contact service — never a path of its own.

Codes: xmlSubscribe 0 done, 1 generic error, 2 invalid email or mobile, 3 already subscribed;
Xmlchksubscriber 1 not subscribed or error, 2 subscribed, 3 unsubscribed, 4 pending;
Xmlunsubscribe 0 done, 1 error, 3 unknown or not subscribed; xmlUpdSubscriber 0 done, 1 error;
every page -1011 when the client has not turned the endpoints on or the caller's IP is not allowed.

A list is looked up by its numeric id within the host's agency only: another agency's list answers as a
missing one (1). Groups (`Group`, `Replace`) have no counterpart here (the portal's segments are rules,
not memberships) and are accepted and ignored, so plugins that always send them keep working.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from sqlalchemy import select

from ..extensions import db
from ..forms import confirm_mail, optin
from ..imports.addresses import InvalidAddress, normalise_email, normalise_phone
from ..models import Agency, Client, Field, MailingList, Subscription
from ..models.audience import CHANNEL_EMAIL, CHANNEL_SMS, SUB_PENDING, SUB_SUBSCRIBED
from ..services import DomainError
from ..services import contacts as contact_svc
from ..tenancy import bind_tenant
from . import access
from .params import flag, ids

OK, GENERIC, INVALID_ADDRESS, ALREADY = 0, 1, 2, 3
CHK_SUBSCRIBED, CHK_UNSUBSCRIBED, CHK_PENDING = 2, 3, 4
NOT_ALLOWED = -1011
FIELD_CODE = re.compile(r"^campo(\d{1,2})$", re.IGNORECASE)


class Answer(Exception):
    """Stop with this code (raised by the shared checks)."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


@dataclass
class Call:
    agency: Agency
    params: dict[str, str]  # lower-cased names, non-empty values
    caller_ip: str
    user_agent: str = ""

    def get(self, name: str) -> str | None:
        value = self.params.get(name.lower())
        return value.strip() if value is not None else None


def _lists(call: Call, *, single: bool) -> tuple[Client, list[MailingList]]:
    """The lists named by `List` (comma- or semicolon-separated), all of one client of this agency,
    matching `ListGuid` when one is sent; then the client's on/off switch and IP allow-list."""
    wanted = ids(call.get("List"))
    if not wanted or (single and len(set(wanted)) != 1):
        raise Answer(GENERIC)
    lists = list(
        db.session.scalars(
            select(MailingList).where(MailingList.id.in_(wanted), MailingList.agency_id == call.agency.id)
        )
    )
    if len(lists) != len(set(wanted)) or len({lst.client_id for lst in lists}) != 1:
        raise Answer(GENERIC)
    client = db.session.scalar(select(Client).where(Client.id == lists[0].client_id))
    if client is None or not client.is_active:
        raise Answer(GENERIC)
    if not access.caller_allowed(access.get_access(client), call.caller_ip):
        raise Answer(NOT_ALLOWED)
    guid = (call.get("ListGuid") or "").strip('"{} ').lower()
    if guid and guid not in {lst.guid.lower() for lst in lists}:
        raise Answer(GENERIC)
    return client, lists


def for_client(*, single: bool):
    """Resolve the lists and the caller's right first, then run the page with their client bound (the
    contact service reads the client's fields and contacts through the bound tenant)."""

    def decorator(page: Callable[[Call, Client, list[MailingList]], int]):
        @wraps(page)
        def run(call: Call) -> int:
            client, lists = _lists(call, single=single)
            with bind_tenant(client.agency_id, client.id):
                return page(call, client, lists)

        return run

    return decorator


def _address(call: Call) -> tuple[str, str]:
    """(email, sms) as sent; an SMS number in the `00` international form becomes `+`, and so does one
    whose `+` arrived as a space (a `+` left unencoded in a query string decodes to a space)."""
    email = call.get("Email") or ""
    raw = call.params.get("sms", "")
    sms = re.sub(r"[\s().-]", "", raw)
    if sms.startswith("00"):
        sms = "+" + sms[2:]
    elif raw[:1] == " " and sms[:1].isdigit():
        sms = "+" + sms
    return email, sms


def _valid(client: Client, email: str, sms: str) -> bool:
    try:
        if email:
            normalise_email(email)
        if sms:
            normalise_phone(sms, client.default_region)
    except InvalidAddress:
        return False
    return True


def _field_values(call: Call, client: Client) -> dict[str, str]:
    """csvFldNames (`campo1;Campo6`) with csvFldValues as {field key: text}, by field number. Codes of
    fields the client does not have (and `Email`, `sms`) are ignored; a count mismatch or `--` in a
    value is a generic error, as on the original pages."""
    names_raw, values_raw = call.get("csvFldNames"), call.get("csvFldValues") or ""
    if not names_raw:
        return {}
    names, values = names_raw.split(";"), values_raw.split(";")
    if len(names) != len(values) or any("--" in v for v in values):
        raise Answer(GENERIC)
    by_number = {
        f.number: f.key for f in db.session.scalars(select(Field).where(Field.client_id == client.id))
    }
    out = {}
    for name, value in zip(names, values, strict=True):
        match = FIELD_CODE.match(name.strip())
        if match and int(match.group(1)) in by_number:
            out[by_number[int(match.group(1))]] = value.strip()
    return out


def _locale(call: Call) -> str:
    lang = (call.get("lang") or "").lower()[:2]
    return lang if lang in ("en", "it") else (call.agency.default_locale or "en")


@for_client(single=False)
def subscribe(call: Call, client: Client, lists: list[MailingList]) -> int:
    email, sms = _address(call)
    if not email and not sms:
        return INVALID_ADDRESS
    if not _valid(client, email, sms):
        return INVALID_ADDRESS
    values = _field_values(call, client)
    # `ipAddress` is the subscriber's own address that shop plugins pass along: the consent evidence.
    consent_ip = call.get("ipAddress") or call.caller_ip
    data = optin.SignUp(
        email=email,
        phone=sms,
        values=values,
        list_ids=[lst.id for lst in lists],
        channels=tuple(ch for ch, address in ((CHANNEL_EMAIL, email), (CHANNEL_SMS, sms)) if address),
        double_opt_in=flag(call.get("Confirm"), True),
        source="plugin",
        ip=consent_ip[:64],
        user_agent=call.user_agent,
        consent_text="",
        locale=_locale(call),
    )
    try:
        result = optin.sign_up(client, data)
    except optin.SignUpInvalid as exc:
        db.session.rollback()
        return INVALID_ADDRESS if set(exc.errors) & {"email", "phone"} else GENERIC
    except DomainError:
        db.session.rollback()
        return GENERIC
    if result.token:
        confirm_mail.queue_confirmation(call.agency, client, result.request, result.token)
    db.session.commit()
    return ALREADY if result.outcome == "already" else OK


def _contact(call: Call, client: Client):
    email, sms = _address(call)
    if not email and not sms:
        raise Answer(GENERIC)
    try:
        contact = optin.find_contact(client, email, sms)
    except InvalidAddress:
        raise Answer(GENERIC) from None
    return contact, CHANNEL_EMAIL if email else CHANNEL_SMS


def _subscription(contact, list_id: int, channel: str) -> Subscription | None:
    return db.session.scalar(
        select(Subscription).where(
            Subscription.contact_id == contact.id,
            Subscription.list_id == list_id,
            Subscription.channel == channel,
        )
    )


@for_client(single=True)
def check_subscriber(call: Call, client: Client, lists: list[MailingList]) -> int:
    contact, channel = _contact(call, client)
    sub = _subscription(contact, lists[0].id, channel) if contact is not None else None
    if sub is None:
        return GENERIC
    if sub.status == SUB_SUBSCRIBED:
        return CHK_SUBSCRIBED
    return CHK_PENDING if sub.status == SUB_PENDING else CHK_UNSUBSCRIBED


@for_client(single=False)
def unsubscribe(call: Call, client: Client, lists: list[MailingList]) -> int:
    contact, channel = _contact(call, client)
    if contact is None:
        return ALREADY
    done = 0
    for lst in lists:
        sub = _subscription(contact, lst.id, channel)
        if sub is not None and sub.status in (SUB_SUBSCRIBED, SUB_PENDING):
            contact_svc.unsubscribe(actor=None, client=client, contact=contact, subscription_id=sub.id)
            done += 1
    db.session.commit()
    return OK if done else ALREADY


@for_client(single=True)
def update_subscriber(call: Call, client: Client, lists: list[MailingList]) -> int:
    contact, channel = _contact(call, client)
    if contact is None or _subscription(contact, lists[0].id, channel) is None:
        return GENERIC
    values = _field_values(call, client)
    if values:
        data = contact_svc.ContactInput(email=contact.email or "", phone=contact.phone or "", values=values)
        try:
            contact_svc.save_contact(actor=None, client=client, data=data, contact=contact)
        except DomainError:
            db.session.rollback()
            return GENERIC
    db.session.commit()
    return OK


PAGES = {
    "xmlsubscribe.aspx": subscribe,
    "xmlchksubscriber.aspx": check_subscriber,
    "xmlunsubscribe.aspx": unsubscribe,
    "xmlupdsubscriber.aspx": update_subscriber,
    "updsubscriber.aspx": update_subscriber,
}


def answer(page: str, call: Call) -> int:
    try:
        return PAGES[page](call)
    except Answer as stop:
        db.session.rollback()
        return stop.code
