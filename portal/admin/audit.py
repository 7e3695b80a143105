"""The audit log of the whole platform, newest first, filterable by agency and action."""

from __future__ import annotations

from flask import abort, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

from ..audit_labels import ACTION_LABELS, action_label
from ..extensions import db
from ..formfields import choices
from ..models import Agency, AuditEvent, Client
from . import bp
from .forms import AuditFilterForm

PER_PAGE = 50
PLATFORM = "platform"


@bp.route("/audit")
def audit_log():
    agencies = db.session.scalars(select(Agency).order_by(Agency.name)).all()
    actions = db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all()
    form = AuditFilterForm(request.args)
    form.agency.choices = choices(
        [("", _("All agencies")), (PLATFORM, _("Platform (no agency)"))]
        + [(str(a.id), a.name) for a in agencies]
    )
    form.action.choices = choices(
        [("", _("All actions"))]
        + sorted(
            ((a, f"{action_label(a)} ({a})" if a in ACTION_LABELS else a) for a in actions),
            key=lambda c: c[1],
        )
    )
    if request.args and not form.validate():
        abort(400)
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if form.agency.data == PLATFORM:
        query = query.where(AuditEvent.agency_id.is_(None))
    elif form.agency.data:
        query = query.where(AuditEvent.agency_id == int(form.agency.data))
    if form.action.data:
        query = query.where(AuditEvent.action == form.action.data)
    page = db.paginate(query, per_page=PER_PAGE, error_out=False)
    client_ids = {e.client_id for e in page.items if e.client_id}
    client_names = (
        dict(db.session.execute(select(Client.id, Client.name).where(Client.id.in_(client_ids))).all())
        if client_ids
        else {}
    )
    return render_template(
        "admin/audit.html",
        form=form,
        page=page,
        agency_names={a.id: a.name for a in agencies},
        client_names=client_names,
        labels=ACTION_LABELS,
        filters={k: v for k, v in (("agency", form.agency.data), ("action", form.action.data)) if v},
    )
