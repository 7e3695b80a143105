"""Client-area pages of the REST API: keys (create — shown once —, revoke, scopes, expiry, last use)
and the API reference with this client's own ids and host in the examples."""

from __future__ import annotations

from datetime import UTC, datetime, time

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..client import ADMINS, client_role
from ..extensions import db
from ..guards import require_area, roles_required
from ..links import agency_base_url
from ..models import Field, MailingList
from ..services import DomainError, NotFound
from . import keys as key_service
from .pages_forms import SCOPE_LABELS, KeyForm

bp = Blueprint("integrations", __name__, url_prefix="/app/api")
bp.before_request(require_area("client"))


def _actor():
    return current_user._get_current_object()


def _render_keys(form: KeyForm, new_key=None):
    return render_template(
        "api/keys.html",
        keys=key_service.list_keys(),
        form=form,
        new_key=new_key,
        can_admin=client_role() in ADMINS,
        scope_labels=SCOPE_LABELS,
        now=datetime.now(UTC),
    )


@bp.route("/keys")
def keys():
    return _render_keys(KeyForm())


@bp.route("/keys", methods=["POST"])
@roles_required(*ADMINS)
def create_key():
    form = KeyForm()
    if not form.validate_on_submit():
        return _render_keys(form), 400
    expires = datetime.combine(form.expires_on.data, time(23, 59), UTC) if form.expires_on.data else None
    try:
        new = key_service.create_key(
            actor=_actor(),
            client=g.client,
            name=form.name.data,
            scopes=form.scopes.data,
            expires_at=expires,
            rate_limit_per_minute=form.rate_limit.data,
        )
    except DomainError as exc:
        db.session.rollback()
        form.name.errors = [*form.name.errors, str(exc)]
        return _render_keys(form), 400
    db.session.commit()
    # Shown on this answer only: the page is not cached (no-store) and the key is never stored.
    return _render_keys(KeyForm(formdata=None), new_key=new)


@bp.route("/keys/<int:key_id>/revoke", methods=["POST"])
@roles_required(*ADMINS)
def revoke_key(key_id: int):
    try:
        key = key_service.get_key(key_id)
    except NotFound:
        abort(404)
    key_service.revoke_key(actor=_actor(), client=g.client, key=key)
    db.session.commit()
    flash(
        _("The key %(name)s was revoked; requests with it are refused from now on.", name=key.name), "success"
    )
    return redirect(url_for("integrations.keys"))


@bp.route("/reference")
def reference():
    lists = list(db.session.scalars(select(MailingList).order_by(MailingList.id).limit(3)))
    fields = list(db.session.scalars(select(Field).order_by(Field.number).limit(3)))
    return render_template(
        "api/reference.html",
        base=agency_base_url(g.agency) + "/api/v1",
        client=g.client,
        list_id=lists[0].id if lists else 1,
        lists=lists,
        field_keys=[f.key for f in fields],
    )
