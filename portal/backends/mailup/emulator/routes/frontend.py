"""The legacy frontend pages (§15.1): GET or POST, query or form parameters in any case, a bare number as
the body (`retCode` does not matter: only codes are returned).

The account is the one whose console host is the request's Host (port ignored), else the one owning the
`ListGuid` sent, else the first account. With `frontend_ip_check` on, callers whose IP was not registered
(by `WSActivation.aspx`) get -1011.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from .. import recipients as rec
from ..model import EMAIL, OPTOUT_LINK, PENDING, SMS, SUBSCRIBED, UNSUBSCRIBED, Account, Recipient, mobile_key
from ..util import flag
from ..web import arg, state

bp = Blueprint("mailup_frontend", __name__)

OK, GENERIC, INVALID_ADDRESS, ALREADY = 0, 1, 2, 3
IP_NOT_REGISTERED = -1011


def _code(value: int) -> Response:
    return Response(str(value), mimetype="text/plain")


def _p(name: str, default=None):
    return arg(name, default, form=True)


def _account() -> Account | None:
    st = state()
    host = (request.host or "").split(":")[0].lower()
    for a in st.accounts.values():
        if a.console_host.lower() == host:
            return a
    guid = (_p("ListGuid") or "").strip().lower()
    if guid:
        for a in st.accounts.values():
            if any(lst.guid.lower() == guid for lst in a.lists.values()):
                return a
    return next(iter(st.accounts.values()), None)


def _ids(raw, seps=",;") -> list[int] | None:
    if raw is None or not str(raw).strip():
        return []
    out = []
    text = str(raw)
    for sep in seps[1:]:
        text = text.replace(sep, seps[0])
    for part in text.split(seps[0]):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit():
            return None
        out.append(int(part))
    return out


def _guid_ok(a: Account, list_id: int) -> bool:
    guid = (_p("ListGuid") or "").strip()
    return not guid or a.lists[list_id].guid.lower() == guid.lower()


def _fields(a: Account) -> list[dict] | None:
    """csvFldNames (`campo1;Campo6`) with csvFldValues (`;`-separated) as a Fields list; None when bad."""
    names = [n.strip() for n in (_p("csvFldNames") or "").split(";")] if _p("csvFldNames") else []
    values = (_p("csvFldValues") or "").split(";") if _p("csvFldNames") else []
    if len(names) != len(values):
        return None
    out = []
    for name, value in zip(names, values, strict=True):
        if "--" in value:
            return None
        low = name.lower()
        if low.startswith("campo") and low[5:].isdigit():
            out.append({"Id": int(low[5:]), "Value": value})
    return out


def _address() -> tuple[str | None, str | None]:
    email = (_p("Email") or "").strip() or None
    sms = (_p("Sms") or "").strip().replace(" ", "") or None
    if sms and sms.startswith("+"):
        sms = "00" + sms[1:]
    return email, sms


def _find(a: Account, email: str | None, sms: str | None) -> Recipient | None:
    return rec.find(a, email=email, mobile=mobile_key("", sms) if sms else None)


def _guard():
    a = _account()
    if a is None:
        return None, _code(GENERIC)
    if a.frontend_ip_check and request.remote_addr not in a.frontend_ips:
        return None, _code(IP_NOT_REGISTERED)
    return a, None


@bp.route("/xmlsubscribe.aspx", methods=["GET", "POST"])
def xml_subscribe():
    a, refused = _guard()
    if refused:
        return refused
    lists, groups = _ids(_p("List")), _ids(_p("Group"))
    if not lists or groups is None or any(lid not in a.lists for lid in lists):
        return _code(GENERIC)
    if any(g not in a.groups or a.groups[g].list_id not in lists for g in groups):
        return _code(GENERIC)
    if not all(_guid_ok(a, lid) for lid in lists):
        return _code(GENERIC)
    email, sms = _address()
    if not email and not sms:
        return _code(INVALID_ADDRESS)
    if (email and not rec.valid_email(email)) or (sms and not sms.isdigit()):
        return _code(INVALID_ADDRESS)
    fields = _fields(a)
    if fields is None:
        return _code(GENERIC)
    channels = ([EMAIL] if email else []) + ([SMS] if sms else [])
    existing = _find(a, email, sms)
    already = existing is not None and all(
        (s := existing.subs(ch).get(lid)) is not None and s.status == SUBSCRIBED
        for ch in channels
        for lid in lists
    )
    body = {"Email": email, "MobilePrefix": "", "MobileNumber": sms, "Fields": fields}
    if _p("name") is not None:
        body["Name"] = _p("name")
    try:
        r, _ = rec.upsert(a, body, channels[0])
    except rec.RecipientError:
        return _code(GENERIC)
    confirm = flag(_p("Confirm", "1"))
    ip = _p("ipAddress") or request.remote_addr
    pending_lists = []
    if email:
        pending_lists = [
            lid for lid in lists if rec.subscribe(state(), r, lid, EMAIL, confirm=confirm, ip=ip)
        ]
    if sms:
        for lid in lists:
            rec.subscribe(state(), r, lid, SMS, confirm=False, ip=ip)
    r.groups.update(groups)
    confirm_list = _ids(_p("ConfirmListID")) or []
    if pending_lists:
        # One confirmation request for several lists when ConfirmListID names one of them.
        targets = [confirm_list[0]] if confirm_list and confirm_list[0] in pending_lists else pending_lists
        for lid in targets:
            rec.send_confirmation(state(), a, lid, [r.id], now=True)
    return _code(ALREADY if already else OK)


@bp.route("/xmlchksubscriber.aspx", methods=["GET", "POST"])
def xml_check_subscriber():
    a, refused = _guard()
    if refused:
        return refused
    lists = _ids(_p("List"))
    if not lists or len(lists) != 1 or lists[0] not in a.lists or not _guid_ok(a, lists[0]):
        return _code(1)
    email, sms = _address()
    r = _find(a, email, sms)
    sub = r.subs(EMAIL if email else SMS).get(lists[0]) if r else None
    if sub is None:
        return _code(1)
    return _code({SUBSCRIBED: 2, UNSUBSCRIBED: 3, PENDING: 4}[sub.status])


@bp.route("/xmlunsubscribe.aspx", methods=["GET", "POST"])
def xml_unsubscribe():
    a, refused = _guard()
    if refused:
        return refused
    lists = _ids(_p("List"))
    if not lists or any(lid not in a.lists or not _guid_ok(a, lid) for lid in lists):
        return _code(GENERIC)
    email, sms = _address()
    r = _find(a, email, sms)
    if r is None:
        return _code(ALREADY)
    channel = EMAIL if email else SMS
    done = [rec.unsubscribe(state(), r, lid, channel, OPTOUT_LINK) for lid in lists]
    return _code(OK if any(done) else ALREADY)


@bp.route("/xmlupdsubscriber.aspx", methods=["GET", "POST"])
@bp.route("/updsubscriber.aspx", methods=["GET", "POST"])
def xml_update_subscriber():
    a, refused = _guard()
    if refused:
        return refused
    lists, groups = _ids(_p("List")), _ids(_p("Group"), ";,")
    if not lists or len(lists) != 1 or lists[0] not in a.lists or not _guid_ok(a, lists[0]) or groups is None:
        return _code(GENERIC)
    list_id = lists[0]
    if any(g not in a.groups or a.groups[g].list_id != list_id for g in groups):
        return _code(GENERIC)
    email, sms = _address()
    r = _find(a, email, sms)
    if r is None or list_id not in (r.email_subs if email else r.sms_subs):
        return _code(GENERIC)
    fields = _fields(a)
    if fields is None:
        return _code(GENERIC)
    for f in fields:
        if f["Id"] in a.fields:
            r.fields[f["Id"]] = f["Value"][: rec.FIELD_MAX]
    if flag(_p("Replace", "0")):
        r.groups = {g for g in r.groups if a.groups.get(g) is None or a.groups[g].list_id != list_id}
    r.groups.update(groups)
    return _code(OK)


WS_NAMES = ("frontend", "ws_mailupimport", "ws_mailupsend", "ws_mailupmanage", "ws_mailupreport")


@bp.route("/wsactivation.aspx", methods=["GET", "POST"])
def ws_activation():
    """Enable a web service and register the caller's IP (XML answer with a ReturnCode)."""
    usr, pwd, url, ws = _p("usr"), _p("pwd"), _p("nl_url"), _p("ws_name")
    code = -2 * (not ws) - 4 * (not usr) - 8 * (not pwd) - 16 * (not url)
    if code == 0:
        st = state()
        a = next(
            (x for x in st.accounts.values() if usr.lower() in (x.username.lower(), f"a{x.uid}")),
            None,
        )
        if a is None:
            code = -1001
        elif a.password != pwd:
            code = -1002
        elif ws.lower() not in WS_NAMES:
            code = -1006
        elif request.remote_addr in a.frontend_ips:
            code = -1008
        else:
            a.frontend_ips.add(request.remote_addr)
    xml = f"<mailupMessage><mailupBody><ReturnCode>{code}</ReturnCode></mailupBody></mailupMessage>"
    return Response(xml, mimetype="text/xml")
