"""Starting a session, and the half-way state between the password and the second factor.

After a correct password a user with a second factor is *not* logged in: the session only remembers, for a
few minutes, whose code it waits for (their rotating session token, so a reset or a password change in
the meantime voids it) and where to go next. `portal/guards.py` keeps such a session on the code step.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import g, session, url_for
from flask_login import login_user

from ..guards import SECOND_FACTOR_PENDING
from ..models import User
from .loader import load_user

PENDING_SECONDS = 5 * 60


def _now() -> float:
    return datetime.now(UTC).timestamp()


def home_for(user) -> str:
    if user.is_platform_admin:
        return url_for("admin.dashboard")
    if user.is_agency_staff:
        return url_for("agency.dashboard")
    return url_for("client.dashboard")


def _fresh_session() -> None:
    """New session content (no fixation), bound to the host that issued it; the language choice stays."""
    lang = session.get("lang")
    session.clear()
    session["tenant"] = g.host.session_key
    if lang:
        session["lang"] = lang
    session.permanent = True


def start_session(user: User) -> None:
    _fresh_session()
    now = _now()
    session.update(issued=now, seen=now)
    login_user(user)


def await_second_factor(user: User, next_url: str) -> None:
    _fresh_session()
    session[SECOND_FACTOR_PENDING] = {
        "user": user.session_token,
        "uid": user.id,
        "at": _now(),
        "next": next_url,
    }


def pending_state() -> dict | None:
    state = session.get(SECOND_FACTOR_PENDING)
    if not isinstance(state, dict) or _now() - float(state.get("at", 0)) > PENDING_SECONDS:
        return None
    return state


def pending_user() -> User | None:
    """The user whose code this session waits for, on the host that asked for it; None once expired."""
    state = pending_state()
    return load_user(state["user"]) if state else None


def forget_pending() -> None:
    session.pop(SECOND_FACTOR_PENDING, None)


def recently_authenticated(seconds: int = 10 * 60) -> bool:
    """Signed in (password, and code where there is one) within the last minutes: no need to ask again."""
    return _now() - float(session.get("issued", 0)) < seconds
