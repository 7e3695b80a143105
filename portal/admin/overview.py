"""The back-office overview: how many tenants, people and jobs there are, at a glance."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import func, select

from ..extensions import db
from ..models import AGENCY_ACTIVE, AGENCY_SUSPENDED, Agency, AuditEvent, Client, User
from . import bp, rqmonitor


def _count(query) -> int:
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


@bp.route("/")
def dashboard():
    stats = {
        "agencies_active": _count(select(Agency.id).where(Agency.status == AGENCY_ACTIVE)),
        "agencies_suspended": _count(select(Agency.id).where(Agency.status == AGENCY_SUSPENDED)),
        "clients": _count(select(Client.id)),
        "users": _count(select(User.id).where(User.agency_id.is_not(None))),
        "admins": _count(select(User.id).where(User.agency_id.is_(None))),
    }
    jobs = rqmonitor.totals()
    recent = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(8)).all()
    agencies = {a.id: a.name for a in db.session.scalars(select(Agency))}
    return render_template("admin/dashboard.html", stats=stats, jobs=jobs, recent=recent, agencies=agencies)
