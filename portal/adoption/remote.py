"""Reading an existing account through the provider's paged recipient endpoints (reference §7.4, §6): which
collections an adoption walks, and what one item of each becomes (a row for `adoption_record`).

Each list is read in four passes on the email channel — the subscribed, unsubscribed and pending
recipients (personal fields, mobile number), then `EmailOptins` (opt-in date and IP, opt-out date and
reason) — three on the SMS channel, and one per group (its members). Every pass is its own step with its
own page cursor; a step's rows name only the columns that pass knows, so passes may be read in any order
and a page read twice writes the same values again.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import orjson

from ..backends.mailup import Optin
from ..backends.mailup.values import parse_date
from ..imports.addresses import InvalidAddress, normalise_email, normalise_phone
from .types import tally_values

STATUSES = ("Subscribed", "Unsubscribed", "Pending")
OUR_STATUS = {"Subscribed": "subscribed", "Unsubscribed": "unsubscribed", "Pending": "pending"}
OPTIN_STATUS = {"OPTIN": "subscribed", "SUBSCRIBED": "subscribed", "PENDING": "pending"}

# Which columns each kind of step writes (the rest of a stored row is left as another step wrote it).
COLUMNS = {
    "email": ("email", "phone", "fields", "status", "problem"),
    "optins": ("consent_at", "consent_ip", "optout_at", "optout_type", "optout_subtype"),
    "sms": ("email", "phone", "fields", "status", "problem"),
}


@dataclass(frozen=True)
class Step:
    kind: str  # email | optins | sms | group
    list_id: int
    status: str = ""  # the provider's status word for email and sms steps
    group_id: int = 0

    @property
    def path(self) -> str:
        if self.kind == "email":
            return f"/Console/List/{self.list_id}/Recipients/{self.status}"
        if self.kind == "optins":
            return f"/Console/List/{self.list_id}/Recipients/EmailOptins"
        if self.kind == "sms":
            return f"/Console/Sms/List/{self.list_id}/Recipients/{self.status}"
        return f"/Console/Group/{self.group_id}/Recipients"

    @property
    def channel(self) -> str:
        return "sms" if self.kind == "sms" else "email"


def steps_for(preview: dict) -> list[Step]:
    """Every step of an adoption, in a fixed order (the cursor is an index into this list)."""
    out: list[Step] = []
    for item in preview.get("lists", []):
        list_id = int(item["id"])
        out += [Step("email", list_id, s) for s in STATUSES]
        out.append(Step("optins", list_id))
        out += [Step("sms", list_id, s) for s in STATUSES]
        out += [Step("group", list_id, group_id=int(g["id"])) for g in item.get("groups", [])]
    return out


@lru_cache(maxsize=65536)
def phone_of(prefix: str | None, number: str | None, region: str) -> str:
    """E.164 from MailUp's prefix and number (§7.1); raises InvalidAddress. Cached: the email and the SMS
    passes of a list meet the same numbers, and parsing one is the dearest step of reading a page."""
    number = (number or "").strip()
    prefix = (prefix or "").strip().lstrip("+").removeprefix("00")
    raw = f"+{prefix}{number}" if prefix and not number.startswith(("+", "00")) else number
    return normalise_phone(raw, region)


def recipient_row(step: Step, item: dict, region: str, tally: dict | None = None) -> dict:
    """A recipient item of a status collection (§7.1) → the columns of its record. Read by hand rather
    than through the client's Recipient record: this runs for every recipient of the account."""
    problem = email = phone = None
    raw_email, number = item.get("Email"), item.get("MobileNumber")
    if raw_email:
        try:
            email = normalise_email(str(raw_email))
        except InvalidAddress as exc:
            problem = f"email {raw_email!r}: {exc}"
    if number:
        try:
            phone = phone_of(item.get("MobilePrefix"), str(number), region)
        except InvalidAddress as exc:
            if step.kind == "sms":
                problem = f"phone {item.get('MobilePrefix') or ''}{number}: {exc}"
    if step.kind == "email" and email is None and problem is None:
        problem = "no email address"
    if step.kind == "sms" and phone is None and problem is None:
        problem = "no mobile number"
    values = {}
    for f in item.get("Fields") or ():
        value = f.get("Value")
        if value and isinstance(value, str) and (value := value.strip()):
            key = str(f.get("Id"))
            values[key] = value
            if tally is not None:
                tally_values(tally, key, value)
    return {
        "remote_id": int(item["idRecipient"]),
        "email": email,
        "phone": phone,
        "fields": orjson.dumps(values).decode(),
        "status": OUR_STATUS[step.status],
        "problem": problem,
    }


def optin_row(item: dict) -> dict | None:
    """An `EmailOptins` item (§7.4): consent and opt-out details of one recipient of the list."""
    o = Optin.from_api(item)
    if o.recipient_id is None:
        return None
    return {
        "remote_id": o.recipient_id,
        "status": "unsubscribed" if o.opted_out else OPTIN_STATUS.get(o.status.upper(), "subscribed"),
        "consent_at": o.optin_date or parse_date(item.get("Optin_Request_Date")),
        "consent_ip": (str(item.get("Optin_Request_IP") or "") or None),
        "optout_at": o.optout_date if o.opted_out else None,
        "optout_type": o.optout_type if o.opted_out else None,
        "optout_subtype": o.optout_subtype if o.opted_out else None,
    }
