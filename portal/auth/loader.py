"""Flask-Login wiring: users are loaded by their rotating session token, only on the host that issued it."""

from __future__ import annotations

from flask import Flask, current_app, g, session
from sqlalchemy import select

from ..extensions import db, login_manager
from ..models import User
from ..tenancy import all_tenants


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    login_manager.user_loader(load_user)


def load_user(token: str) -> User | None:
    host = g.get("host")
    if host is None:
        return None
    if session.get("tenant") != host.session_key:
        # A cookie replayed on another tenant's host is anonymous there; leave a trace for the operators.
        current_app.logger.warning(
            "session for %r presented on %s: treated as anonymous", session.get("tenant"), host.host
        )
        return None
    query = select(User).where(User.session_token == token, User.active.is_(True))
    if host.kind == "admin":
        with all_tenants():
            return db.session.scalar(query.where(User.agency_id.is_(None)))
    return db.session.scalar(query)  # the tenant filter restricts it to this host's agency
