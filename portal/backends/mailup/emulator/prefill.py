"""Accounts that already hold years of data: lists, groups, personal fields and recipients in every status,
from a seed description (a dict, or a JSON file) or from a generator. What adopting an existing account
needs in tests, benchmarks and `make dev`.

A seed description:

    {"fields": {"28": "Tessera"},                       # extra personal fields (id → name)
     "lists": [{"name": "Newsletter", "groups": ["VIP", "Milano"]}, ...],   # list 1 is renamed, others made
     "recipients": [
        {"email": "anna@example.org", "name": "Anna", "mobile": "+393471234567",
         "fields": {"1": "Anna", "27": "12/05/1980"},
         "lists": {"Newsletter": {"email": "subscribed", "sms": "unsubscribed"}},
         "groups": ["VIP"]}, ...]}

Statuses per channel: subscribed, pending, unsubscribed (the recipient's own link), admin (unsubscribed by
the console or an import), hard_bounce, soft_bounce (the soft-bounce limit), complaint. The opt-out kinds
carry the emulator's Optout_Type numbers (model.OPTOUT_*; MailUp does not publish its own) and, for
bounces, Optout_Subtype 1 (hard) or 2 (the soft-bounce limit) — the emulator's choice, like the numbers.
Opt-in dates are spread over the past years so that consent dates can be checked after an adoption.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from .model import (
    EMAIL,
    OPTOUT_ADMIN,
    OPTOUT_BOUNCE,
    OPTOUT_COMPLAINT,
    OPTOUT_LINK,
    PENDING,
    SMS,
    SUBSCRIBED,
    UNSUBSCRIBED,
    Account,
    Recipient,
    Subscription,
    mobile_key,
)

SUBTYPE_HARD, SUBTYPE_SOFT_LIMIT = 1, 2
# status word → (MailUp status, Optout_Type, Optout_Subtype, blocks forced opt-in)
KINDS = {
    "subscribed": (SUBSCRIBED, None, None, False),
    "pending": (PENDING, None, None, False),
    "unsubscribed": (UNSUBSCRIBED, OPTOUT_LINK, None, False),
    "admin": (UNSUBSCRIBED, OPTOUT_ADMIN, None, False),
    "hard_bounce": (UNSUBSCRIBED, OPTOUT_BOUNCE, SUBTYPE_HARD, True),
    "soft_bounce": (UNSUBSCRIBED, OPTOUT_BOUNCE, SUBTYPE_SOFT_LIMIT, False),
    "complaint": (UNSUBSCRIBED, OPTOUT_COMPLAINT, None, True),
}
YEAR = 365 * 86400

# The generator's mix of email statuses (per 100 recipients) and its field values.
EMAIL_MIX = (
    ("subscribed", 80),
    ("pending", 5),
    ("unsubscribed", 5),
    ("admin", 2),
    ("hard_bounce", 4),
    ("soft_bounce", 1),
    ("complaint", 3),
)
SMS_MIX = (("subscribed", 85), ("pending", 5), ("unsubscribed", 10))
FIRST = "Anna Bruno Carla Dario Elena Fabio Giulia Luca Marta Nicola Paola Rita Sara Teo".split()
LAST = "Rossi Bianchi Verdi Russo Ferrari Esposito Romano Colombo Ricci Marino Greco".split()
CITIES = "Milano Roma Torino Napoli Bologna Firenze Bari Verona".split()


def load_seed(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def prefill(state, username: str, seed: dict) -> dict:
    """Fill the account with the seed's lists, groups, fields and recipients → {"lists": {name: id},
    "groups": {name: id}, "recipients": n}. Runs under the state's lock; ids are the account's own."""
    with state.lock:
        account = state.account(username)
        for fid, name in (seed.get("fields") or {}).items():
            account.fields[int(fid)] = str(name)
        lists, groups = {}, {}
        for i, spec in enumerate(seed.get("lists") or [{"name": "Newsletter"}]):
            if i == 0 and 1 in account.lists:
                account.lists[1].name = spec["name"]
                item = account.lists[1]
            else:
                item = state.create_list(account, {"Name": spec["name"], "Description": "prefilled"})
            lists[spec["name"]] = item.id
            for group_name in spec.get("groups") or []:
                groups[group_name] = state.create_group(account, item.id, group_name, "prefilled").id
        now = state.now()
        count = 0
        for n, r in enumerate(seed.get("recipients") or []):
            _add_recipient(account, r, lists, groups, now - (n % 1000 + 1) * 3600 * 7)
            count += 1
        state.dirty = True
        return {"lists": lists, "groups": groups, "recipients": count}


def _add_recipient(account: Account, spec: dict, lists: dict, groups: dict, when: float) -> Recipient:
    prefix = number = None
    mobile = spec.get("mobile")
    if mobile:
        prefix, number = mobile[:3], mobile[3:]  # "+39" and the rest, as MailUp keeps them apart
    r = Recipient(
        id=account.next_id("recipient"),
        email=spec.get("email"),
        name=spec.get("name", ""),
        mobile_prefix=prefix,
        mobile_number=number,
        fields={int(k): str(v) for k, v in (spec.get("fields") or {}).items()},
    )
    for list_name, channels in (spec.get("lists") or {}).items():
        list_id = lists[list_name]
        for channel, word in channels.items():
            status, optout_type, subtype, blocks = KINDS[word]
            sub = Subscription(status, optin_request_date=when - 86400, optin_request_ip="192.0.2.10")
            if status != PENDING:
                sub.optin_date = when
            if status == UNSUBSCRIBED:
                sub.optout_date = when + YEAR / 2
                sub.optout_type, sub.optout_subtype = optout_type, subtype
            (r.email_subs if channel == EMAIL else r.sms_subs)[list_id] = sub
            if blocks and channel == EMAIL:
                r.blocked = "hard_bounce" if word == "hard_bounce" else "complaint"
    r.groups = {groups[g] for g in spec.get("groups") or []}
    account.recipients[r.id] = r
    if r.email:
        account.by_email[r.email.lower()] = r.id
    if r.mobile_number:
        account.by_mobile[mobile_key(r.mobile_prefix, r.mobile_number)] = r.id
    return r


def _pick(rng: random.Random, mix) -> str:
    roll = rng.randrange(sum(weight for _, weight in mix))
    for word, weight in mix:
        if roll < weight:
            return word
        roll -= weight
    return mix[0][0]


def generate(recipients: int, *, seed: int = 13, lists: int = 1, mobile_share: float = 0.3) -> dict:
    """A seed of `recipients` people on `lists` lists (two groups on the first), in every status: mostly
    subscribed, some pending, unsubscribed, unsubscribed by an administrator, hard-bounced, past the
    soft-bounce limit and complained; a share with a mobile number on the SMS channel too."""
    rng = random.Random(seed)
    names = ["Newsletter"] + [f"List {i}" for i in range(2, lists + 1)]
    out = []
    for i in range(1, recipients + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        channels: dict = {"email": _pick(rng, EMAIL_MIX)}
        person = {
            "email": f"{first.lower()}.{last.lower()}.{i}@example{i % 9}.com",
            "name": f"{first} {last}",
            "fields": {
                "1": first,
                "2": last,
                "4": rng.choice(CITIES),
                "23": str(rng.randrange(20, 5000)),  # TotaleFatturato: numbers only
                "27": f"{rng.randrange(1, 29):02d}/{rng.randrange(1, 13):02d}/{rng.randrange(1950, 2005)}",
            },
        }
        if rng.random() < mobile_share:
            person["mobile"] = f"+39347{i:07d}"
            channels["sms"] = _pick(rng, SMS_MIX)
        person["lists"] = {names[i % len(names)]: channels}
        person["groups"] = [g for g, share in (("VIP", 0.1), ("Milano", 0.2)) if rng.random() < share]
        if names[i % len(names)] != names[0]:
            person["groups"] = []
        out.append(person)
    return {
        "lists": [{"name": names[0], "groups": ["VIP", "Milano"]}] + [{"name": n} for n in names[1:]],
        "recipients": out,
    }


def statuses(account: Account, list_id: int, channel: str = EMAIL) -> dict[str, int]:
    """Recipients of a list per MailUp status on one channel (what an adoption's preview must find)."""
    out = {SUBSCRIBED: 0, UNSUBSCRIBED: 0, PENDING: 0}
    for r in account.recipients.values():
        sub = (r.email_subs if channel == EMAIL else r.sms_subs).get(list_id)
        if sub is not None:
            out[sub.status] += 1
    return out


__all__ = ["KINDS", "SMS", "generate", "load_seed", "prefill", "statuses"]
