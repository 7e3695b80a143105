"""Recipients: the account-wide address book, per-list subscriptions per channel, groups, imports (§7).

Rules (reference §7.5, §7.6, §16.1 matrix, §19; the emulator's reading where the sources are silent):
- email and mobile number are each unique keys of the account; a body whose email and mobile belong to
  two different recipients is refused ("key mismatch");
- a synchronous subscribe is a forced opt-in: a recipient who unsubscribed is subscribed again — except
  an address blocked by a hard bounce or complaint, which stays unsubscribed;
- an import is not forced: unsubscribed recipients keep their status (`importType=asOptin` forces,
  `importType=asOptout` unsubscribes everyone in the body);
- `ConfirmEmail=true` puts new and pending recipients in Pending (a subscribed one stays subscribed); the
  synchronous call sends the confirmation request at once, an import queues it unsent (Undefined);
- field values are strings of at most 200 characters; ids the account has not defined are ignored;
  empty values do not overwrite unless `clearMissingOrEmptyFields=true` (PUT Recipient/Detail replaces).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .model import (
    EMAIL,
    OPTOUT_ADMIN,
    OPTOUT_BOUNCE,
    PENDING,
    SMS,
    SUBSCRIBED,
    UNSUBSCRIBED,
    Account,
    Import,
    Recipient,
    Subscription,
    mobile_key,
)
from .util import flag, get_ci

if TYPE_CHECKING:
    from .state import EmulatorState

EMAIL_RE = re.compile(r"^[^@\s;,]+@[^@\s;,]+\.[^@\s;,.]+$")
FIELD_MAX = 200
DEFAULT_PREFIX = "0039"


class RecipientError(ValueError):
    """A body the API refuses (400): invalid address, key mismatch."""


def valid_email(email) -> bool:
    return isinstance(email, str) and bool(EMAIL_RE.match(email.strip()))


def find(account: Account, email: str | None = None, mobile: str | None = None) -> Recipient | None:
    rid = None
    if email:
        rid = account.by_email.get(email.strip().lower())
    if rid is None and mobile:
        rid = account.by_mobile.get(mobile)
    return account.recipients.get(rid) if rid is not None else None


def lookup(account: Account, ref: str | int) -> Recipient | None:
    """A recipient by id, or by email address (the undocumented `GET /Recipient/{email}`)."""
    if isinstance(ref, int) or str(ref).isdigit():
        return account.recipients.get(int(ref))
    return find(account, email=str(ref))


# --- formatting ----------------------------------------------------------------------------------------


def item(account: Account, r: Recipient) -> dict:
    """ConsoleRecipientItem, every defined personal field listed (empty string when unset)."""
    return {
        "idRecipient": r.id,
        "Name": r.name,
        "Email": r.email,
        "MobilePrefix": r.mobile_prefix,
        "MobileNumber": r.mobile_number,
        "Fields": [
            {"Description": desc, "Id": fid, "Value": r.fields.get(fid, "")}
            for fid, desc in sorted(account.fields.items())
        ],
    }


def optin_item(r: Recipient, sub: Subscription, fmt) -> dict:
    status = {SUBSCRIBED: "OPTIN", UNSUBSCRIBED: "OPTOUT", PENDING: "PENDING"}[sub.status]
    return {
        "Email": r.email,
        "Optin_Date": fmt(sub.optin_date, millis=True) if sub.optin_date else "",
        "Optin_Request_Date": fmt(sub.optin_request_date, millis=True) if sub.optin_request_date else "",
        "Optin_Request_IP": sub.optin_request_ip,
        "Optout_Date": fmt(sub.optout_date, millis=True) if sub.optout_date else "",
        "Optout_MsgID": sub.optout_msgid,
        "Optout_Subtype": sub.optout_subtype,
        "Optout_Type": sub.optout_type,
        "Status": status,
        "idRecipient": r.id,
    }


def members(account: Account, list_id: int, channel: str, status: str | None) -> list[Recipient]:
    """Recipients of a list on a channel (all statuses when `status` is None), in id order. Every page
    of a listing scans the whole account: kept to one comprehension, since accounts hold 100,000s."""
    attr = "email_subs" if channel == EMAIL else "sms_subs"
    if status is None:
        return [r for r in account.recipients.values() if list_id in getattr(r, attr)]
    return [
        r
        for r in account.recipients.values()
        if (sub := getattr(r, attr).get(list_id)) is not None and sub.status == status
    ]


def group_members(account: Account, group_id: int) -> list[Recipient]:
    return [r for r in account.recipients.values() if group_id in r.groups]


# --- status transitions --------------------------------------------------------------------------------


def subscribe(
    state: EmulatorState,
    r: Recipient,
    list_id: int,
    channel: str,
    *,
    confirm: bool = False,
    force: bool = True,
    ip: str | None = None,
) -> bool:
    """Apply a subscribe; True when the recipient now awaits a confirmation request."""
    subs = r.subs(channel)
    sub = subs.get(list_id)
    now = state.now()
    if sub is None and channel == EMAIL and r.blocked == "hard_bounce":
        # The hard bounce holds for the whole account: a list joined later records the opt-out at once.
        subs[list_id] = Subscription(UNSUBSCRIBED, optout_date=now, optout_type=OPTOUT_BOUNCE)
        return False
    if sub is not None and sub.status == UNSUBSCRIBED:
        if not force or (channel == EMAIL and r.blocked):
            return False
    if sub is not None and sub.status == SUBSCRIBED:
        return False
    if confirm:
        subs[list_id] = Subscription(PENDING, optin_request_date=now, optin_request_ip=ip)
        return True
    previous = sub.optin_request_date if sub is not None else None
    subs[list_id] = Subscription(SUBSCRIBED, optin_date=now, optin_request_date=previous, optin_request_ip=ip)
    return False


def unsubscribe(
    state: EmulatorState,
    r: Recipient,
    list_id: int,
    channel: str,
    optout_type: int = OPTOUT_ADMIN,
    msgid: int | None = None,
    subtype: int | None = None,
) -> bool:
    """Unsubscribe from one list (keeping the history); False when there was nothing to unsubscribe."""
    sub = r.subs(channel).get(list_id)
    if sub is None or sub.status == UNSUBSCRIBED:
        return False
    sub.status = UNSUBSCRIBED
    sub.optout_date = state.now()
    sub.optout_type = optout_type
    sub.optout_subtype = subtype
    sub.optout_msgid = msgid
    return True


def unsubscribe_everywhere(
    state: EmulatorState, account: Account, r: Recipient, optout_type: int, msgid=None
):
    """The account-wide email unsubscribe of a hard bounce (§19): every list the address is on; a list it
    joins later records the opt-out at once (see subscribe())."""
    for list_id in list(r.email_subs):
        unsubscribe(state, r, list_id, EMAIL, optout_type, msgid)


def confirm(state: EmulatorState, r: Recipient, list_id: int, channel: str = EMAIL) -> bool:
    """The recipient clicked the confirmation link: Pending becomes Subscribed."""
    sub = r.subs(channel).get(list_id)
    if sub is None or sub.status != PENDING:
        return False
    sub.status = SUBSCRIBED
    sub.optin_date = state.now()
    return True


# --- creating and updating -----------------------------------------------------------------------------


def _field_values(account: Account, body: dict) -> dict[int, str]:
    out = {}
    for f in get_ci(body, "Fields") or []:
        if not isinstance(f, dict):
            continue
        try:
            fid = int(get_ci(f, "Id"))
        except (TypeError, ValueError):
            continue
        if fid in account.fields:
            value = get_ci(f, "Value")
            out[fid] = "" if value is None else str(value)[:FIELD_MAX]
    return out


def upsert(
    account: Account,
    body: dict,
    channel: str,
    *,
    clear_empty: bool = False,
    ignore_mobile: bool = False,
) -> tuple[Recipient, bool]:
    """Find the recipient by email or mobile, create it if new, apply the body: (recipient, created)."""
    if not isinstance(body, dict):
        raise RecipientError("a recipient is a JSON object")
    email = get_ci(body, "Email")
    email = email.strip() if isinstance(email, str) and email.strip() else None
    number = get_ci(body, "MobileNumber")
    number = str(number).strip() if number not in (None, "") and not ignore_mobile else None
    prefix = get_ci(body, "MobilePrefix")
    prefix = str(prefix or "").strip() if number else None
    if number and not prefix and not number.startswith(("00", "+")):
        prefix = DEFAULT_PREFIX  # "" means the list's default prefix (§7.6)
    if channel == EMAIL and not valid_email(email):
        raise RecipientError(f"invalid email address: {email!r}")
    if email is not None and not valid_email(email):
        raise RecipientError(f"invalid email address: {email!r}")
    if channel == SMS and not (number and number.lstrip("+").isdigit()):
        raise RecipientError(f"invalid mobile number: {number!r}")
    mobile = mobile_key(prefix, number) if number else None
    by_email = find(account, email=email) if email else None
    by_mobile = account.recipients.get(account.by_mobile.get(mobile)) if mobile else None
    if by_email and by_mobile and by_email.id != by_mobile.id:
        raise RecipientError("key mismatch: the email and the mobile number belong to two recipients")
    if by_mobile and not by_email and email and by_mobile.email:
        raise RecipientError("key mismatch: the mobile number belongs to another email address")
    r = by_email or by_mobile
    created = r is None
    if r is None:
        r = Recipient(id=account.next_id("recipient"))
        account.recipients[r.id] = r
    if email and r.email != email:
        if r.email:
            account.by_email.pop(r.email.lower(), None)
        r.email = email
        account.by_email[email.lower()] = r.id
    if mobile and (r.mobile_prefix, r.mobile_number) != (prefix, number):
        if r.mobile_number:
            account.by_mobile.pop(mobile_key(r.mobile_prefix, r.mobile_number), None)
        r.mobile_prefix, r.mobile_number = prefix, number
        account.by_mobile[mobile] = r.id
    name = get_ci(body, "Name")
    if name is not None and (str(name) or clear_empty):
        r.name = str(name)[:FIELD_MAX]
    values = _field_values(account, body)
    if clear_empty:  # missing fields are blanked and empty values overwrite
        r.fields = values
    else:
        r.fields.update({fid: value for fid, value in values.items() if value != ""})
    return r, created


def update_detail(account: Account, body: dict) -> Recipient:
    """PUT Recipient/Detail: identified by idRecipient, else by email or mobile; Fields given are replaced."""
    rid = get_ci(body, "idRecipient")
    r = None
    if rid not in (None, "", 0):
        try:
            r = account.recipients.get(int(rid))
        except (TypeError, ValueError):
            r = None
        if r is None:
            raise LookupError("recipient not found")
    else:
        email = get_ci(body, "Email")
        r = find(account, email=email) if email else None
        number = get_ci(body, "MobileNumber")
        if r is None and number:
            r = account.recipients.get(
                account.by_mobile.get(mobile_key(get_ci(body, "MobilePrefix"), number))
            )
        if r is None:
            raise LookupError("recipient not found")
    email = get_ci(body, "Email")
    if email and email.strip().lower() != (r.email or "").lower():
        if not valid_email(email):
            raise RecipientError(f"invalid email address: {email!r}")
        if find(account, email=email):
            raise RecipientError("key mismatch: the email belongs to another recipient")
        if r.email:
            account.by_email.pop(r.email.lower(), None)
        r.email = email.strip()
        account.by_email[r.email.lower()] = r.id
    name = get_ci(body, "Name")
    if name is not None:
        r.name = str(name)[:FIELD_MAX]
    for fid, value in _field_values(account, body).items():
        r.fields[fid] = value
    return r


# --- synchronous subscribe -----------------------------------------------------------------------------


def subscribe_one(
    state: EmulatorState,
    account: Account,
    list_id: int,
    body: dict,
    channel: str = EMAIL,
    *,
    group_id: int | None = None,
    confirm_email: bool = False,
    ip: str | None = None,
) -> int:
    r, _ = upsert(account, body, channel)
    pending = subscribe(state, r, list_id, channel, confirm=confirm_email, force=True, ip=ip)
    if group_id is not None:
        r.groups.add(group_id)
    if pending and channel == EMAIL:
        send_confirmation(state, account, list_id, [r.id], now=True)
    return r.id


def send_confirmation(state: EmulatorState, account: Account, list_id: int, rids: list[int], *, now: bool):
    """The list's confirmation request: queued to go at once (Immediate, dispatched when the request ends)
    or left unsent (Undefined) for the caller to dispatch, as an import's is (§7.6)."""
    return account.new_sending(
        state.now(),
        None,
        list_id,
        "confirmation",
        recipient_ids=rids,
        status="Immediate" if now else "Undefined",
    )


# --- asynchronous import -------------------------------------------------------------------------------


def start_import(
    state: EmulatorState,
    account: Account,
    list_id: int,
    items: list,
    options: dict,
    channel: str = EMAIL,
    group_id: int | None = None,
) -> Import:
    if not isinstance(items, list):
        raise RecipientError("an import body is a JSON array of recipients")
    imp = Import(
        id=account.next_id("import"),
        list_id=list_id,
        channel=channel,
        items=items,
        options=options,
        created=state.now(),
        group_id=group_id,
    )
    account.imports[imp.id] = imp
    return imp


def poll_import(state: EmulatorState, account: Account, imp: Import) -> None:
    """Each status read counts; after `import_polls` of them the import completes."""
    if imp.completed:
        return
    imp.polls += 1
    if imp.polls > state.options.import_polls:
        finish_import(state, account, imp)


def finish_import(state: EmulatorState, account: Account, imp: Import) -> None:
    if imp.completed:
        return
    opts = {k.lower(): v for k, v in imp.options.items()}
    import_type = str(opts.get("importtype") or "").lower()
    confirm = flag(opts.get("confirmemail"))
    clear = flag(opts.get("clearmissingoremptyfields"))
    ignore_mobile = flag(opts.get("ignoremobile"))
    remove_prev = flag(opts.get("removefromprevgroups"))
    counts = dict.fromkeys(("Created", "Updated", "Valid", "NotValid", "Imported"), 0)
    pending_ids = []
    for body in imp.items:
        try:
            r, created = upsert(account, body, imp.channel, clear_empty=clear, ignore_mobile=ignore_mobile)
        except RecipientError:
            counts["NotValid"] += 1
            continue
        counts["Valid"] += 1
        counts["Created" if created else "Updated"] += 1
        if import_type == "asoptout":
            if imp.list_id not in r.subs(imp.channel):
                r.subs(imp.channel)[imp.list_id] = Subscription(SUBSCRIBED, optin_date=state.now())
            unsubscribe(state, r, imp.list_id, imp.channel, OPTOUT_ADMIN)
        else:
            sub = r.subs(imp.channel).get(imp.list_id)
            if imp.channel == SMS and sub is not None:
                pass  # SMS imports keep every existing status (§7.6)
            elif subscribe(
                state, r, imp.list_id, imp.channel, confirm=confirm, force=import_type == "asoptin"
            ):
                pending_ids.append(r.id)
        if imp.group_id in account.groups:  # (a group deleted while its import waited takes nobody)
            if remove_prev:
                r.groups = {
                    g for g in r.groups if g in account.groups and account.groups[g].list_id != imp.list_id
                }
            r.groups.add(imp.group_id)
        counts["Imported"] += 1
    if pending_ids and imp.channel == EMAIL:
        imp.sending_id = send_confirmation(state, account, imp.list_id, pending_ids, now=False).id
    imp.counts = counts
    imp.items = []  # applied; the status keeps the counts
    imp.completed = True
    imp.completed_at = state.now()


def import_status(imp: Import) -> dict:
    c = imp.counts
    return {
        "idImport": imp.id,
        "Completed": imp.completed,
        "UpdatedRecipients": c.get("Updated", 0),
        "ValidRecipients": c.get("Valid", 0),
        "CreatedRecipients": c.get("Created", 0),
        "ImportedRecipients": c.get("Imported", 0),
        "NotValidRecipients": c.get("NotValid", 0),
    }


def import_detail(imp: Import, fmt) -> dict:
    """The richer ConsoleImportDetail of `/Console/Imports/{id}` (StatusCode as the SOAP details: 2
    running, 3 completed)."""
    c = imp.counts
    opts = {k.lower(): v for k, v in imp.options.items()}
    email = imp.channel == EMAIL
    return {
        "EndDate": fmt(imp.completed_at) if imp.completed_at else None,
        "FieldSeparator": None,
        "Filename": None,
        "IdGroups": [imp.group_id] if imp.group_id is not None else [],
        "IdImport": imp.id,
        "IdList": imp.list_id,
        "IgnoreDoubleQuotes": False,
        "IgnoreFirstRow": False,
        "ImportAsUnsubscribed": str(opts.get("importtype") or "").lower() == "asoptout",
        "IncludePendingRecipients": False,
        "OverwriteEmptyFields": flag(opts.get("clearmissingoremptyfields")),
        "ReplaceExistingGroup": flag(opts.get("removefromprevgroups")),
        "Rows": {
            "Invalid": {
                "InvalidEmail": c.get("NotValid", 0) if email else 0,
                "InvalidNumber": 0 if email else c.get("NotValid", 0),
                "Total": c.get("NotValid", 0),
                "WithoutEmail": 0,
                "WithoutNumber": 0,
                "WithoutPrefix": 0,
            },
            "Total": c.get("Valid", 0) + c.get("NotValid", 0),
            "Valid": {
                "EmailNew": c.get("Created", 0) if email else 0,
                "EmailUpdate": c.get("Updated", 0) if email else 0,
                "NumberNew": 0 if email else c.get("Created", 0),
                "NumberUpdate": 0 if email else c.get("Updated", 0),
                "RepeatedEmail": 0,
                "RepeatedNumber": 0,
                "Total": c.get("Valid", 0),
            },
        },
        "SendConfirmationEmail": flag(opts.get("confirmemail")),
        "StartDate": fmt(imp.created),
        "StatusCode": 3 if imp.completed else 2,
    }
