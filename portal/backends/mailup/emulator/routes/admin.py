"""The emulator's own admin endpoints under `/_emulator` (no MailUp equivalent; no authentication — a
local test tool). JSON in, JSON out; each mirrors a method of `EmulatorState`."""

from __future__ import annotations

import dataclasses

from flask import Blueprint, request

from .. import sendings
from ..events import EventError
from ..recipients import confirm, lookup
from ..util import get_ci
from ..web import ApiError, body_object, json_response, state

bp = Blueprint("mailup_emulator_admin", __name__)


def _account(username: str):
    try:
        return state().account(username)
    except KeyError:
        raise ApiError(404, f"No account {username}") from None


def _summary(a) -> dict:
    return {
        "username": a.username,
        "client_id": a.client_id,
        "uid": a.uid,
        "console_host": a.console_host,
        "lists": sorted(a.lists),
        "recipients": len(a.recipients),
        "messages": len(a.messages),
        "sendings": len(a.sendings),
        "deliveries": len(a.deliveries),
        "events": len(a.events),
        "imports_pending": sum(not i.completed for i in a.imports.values()),
        "sms_credits": a.sms_credits,
    }


@bp.get("/")
def index():
    st = state()
    return json_response(
        {
            "now": st.now(),
            "options": dataclasses.asdict(st.options),
            "accounts": [_summary(a) for a in st.accounts.values()],
        }
    )


@bp.post("/accounts")
def add_account():
    data = body_object()
    try:
        a = state().add_account(
            *(str(get_ci(data, k) or "") for k in ("username", "password", "client_id", "client_secret")),
            company=get_ci(data, "company"),
            console_host=get_ci(data, "console_host"),
        )
    except (ValueError, TypeError) as exc:
        raise ApiError(400, str(exc)) from None
    return json_response(_summary(a))


@bp.get("/accounts/<username>")
def account_summary(username: str):
    return json_response(_summary(_account(username)))


@bp.get("/accounts/<username>/deliveries")
def deliveries(username: str):
    message_id = request.args.get("message_id", type=int)
    return json_response(
        state().deliveries(_account(username).username, message_id, request.args.get("channel"))
    )


@bp.get("/accounts/<username>/sendings")
def account_sendings(username: str):
    a = _account(username)
    return json_response([sendings.item(a, s) for s in a.sendings.values()])


@bp.post("/accounts/<username>/events")
def simulate(username: str):
    """{"kind", "message_id", "recipient": id or address, "url"?, "bounce_type"?} — or "all": true for
    every recipient the message was delivered to."""
    a = _account(username)
    data = body_object()
    kind, message_id = get_ci(data, "kind"), get_ci(data, "message_id")
    if not kind or message_id is None:
        raise ApiError(400, "kind and message_id are required")
    details = {k: get_ci(data, k) for k in ("url", "bounce_type", "at") if get_ci(data, k) is not None}
    try:
        if get_ci(data, "all"):
            return json_response(state().simulate_all(a.username, kind, int(message_id), **details))
        return json_response(
            state().simulate(a.username, kind, int(message_id), get_ci(data, "recipient"), **details)
        )
    except EventError as exc:
        raise ApiError(400, str(exc)) from None


@bp.post("/accounts/<username>/confirm")
def confirm_subscription(username: str):
    """{"list_id", "recipient"}: the recipient clicked the confirmation link (Pending → Subscribed)."""
    a = _account(username)
    data = body_object()
    r = lookup(a, get_ci(data, "recipient") or "")
    if r is None:
        raise ApiError(404, "No such recipient")
    return json_response({"confirmed": confirm(state(), r, int(get_ci(data, "list_id") or 1))})


@bp.post("/clock")
def clock():
    """{"seconds"?, "days"?}: move the emulator's clock forward."""
    data = body_object()
    now = state().advance_clock(float(get_ci(data, "seconds") or 0), days=float(get_ci(data, "days") or 0))
    return json_response({"now": now})


@bp.post("/tokens/expire")
def expire_tokens():
    return json_response({"expired": state().expire_tokens(get_ci(body_object(), "username"))})


@bp.post("/imports/complete")
def complete_imports():
    return json_response({"completed": state().complete_imports(get_ci(body_object(), "username"))})


@bp.post("/options")
def options():
    """Change options at run time: rate_limit, token_lifetime, import_polls, import_delay, ..."""
    st = state()
    names = {f.name: f.type for f in dataclasses.fields(st.options)}
    for key, value in body_object().items():
        if key not in names:
            raise ApiError(400, f"Unknown option {key}")
        if key == "rate_limit":
            st.set_rate_limit(int(value))
        else:
            setattr(st.options, key, type(getattr(st.options, key))(value))
    return json_response(dataclasses.asdict(st.options))


@bp.post("/faults")
def faults():
    """{"status", "count"?, "username"?, "path"?}: the next matching API calls fail with that status."""
    data = body_object()
    if get_ci(data, "status") is None:
        raise ApiError(400, "status is required")
    state().inject_fault(
        int(get_ci(data, "status")),
        int(get_ci(data, "count") or 1),
        username=get_ci(data, "username"),
        path=get_ci(data, "path"),
    )
    return json_response({"faults": len(state().faults)})


@bp.post("/save")
def save():
    state().save()
    return json_response({"saved": bool(state().path)})
