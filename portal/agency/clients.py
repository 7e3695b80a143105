"""Client accounts: list with search and paging, create (optionally inviting the first administrator),
detail with settings, delivery connections and users, suspend and reactivate."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..models.user import ROLE_CLIENT_ADMIN
from ..services import DomainError, NotFound, accounts
from ..services import clients as client_service
from ..services import connection_bindings as bindings
from ..services import users as user_service
from ..services.connections import agency_label
from . import bp, queries
from .forms import CLIENT_ROLE_LABELS, ClientConnectionsForm, ClientForm, InviteClientUserForm, NewClientForm


def _actor():
    return current_user._get_current_object()


def client_or_404(client_id: int):
    try:
        return client_service.get_client(client_id)  # tenant-filtered select
    except NotFound:
        abort(404)


def user_status(user) -> str:
    if not user.active:
        return "inactive"
    return "invited" if user.password_hash is None else "active"


@bp.route("/clients")
def clients():
    search = request.args.get("q", "")[:120]
    page = queries.client_page(search, request.args.get("page", 1, type=int))
    return render_template(
        "agency/clients/list.html",
        page=page,
        search=search,
        counts=queries.user_counts([c.id for c in page.items]),
        routes=bindings.client_routes(g.agency, page.items),
    )


@bp.route("/clients/new", methods=["GET", "POST"])
def new_client():
    form = NewClientForm()
    if form.validate_on_submit():
        client = _create_with_admin(form)
        if client is not None:
            db.session.commit()
            if form.admin_email.data:
                flash(
                    _("Client %(name)s created; the invitation is on its way.", name=client.name), "success"
                )
            else:
                flash(_("Client %(name)s created.", name=client.name), "success")
            return redirect(url_for("agency.client_detail", client_id=client.id))
    return render_template("agency/clients/new.html", form=form)


def _create_with_admin(form: NewClientForm):
    """One unit of work: the client and, when asked, its first administrator with an invitation."""
    field = form.name
    try:
        client = client_service.create_client(
            actor=_actor(),
            agency=g.agency,
            name=form.name.data,
            email_quota_month=form.email_quota_month.data,
            timezone=form.timezone.data,
            default_region=form.default_region.data,
        )
        if form.admin_email.data:
            field = form.admin_email
            admin = user_service.create_user(
                actor=_actor(),
                agency=g.agency,
                client=client,
                email=form.admin_email.data,
                name=form.admin_name.data or "",
                role=ROLE_CLIENT_ADMIN,
            )
            accounts.invite(g.agency, admin, actor=_actor())
    except DomainError as exc:
        db.session.rollback()
        field.errors = [*field.errors, str(exc)]
        return None
    return client


def _connections_form(**kwargs) -> ClientConnectionsForm:
    usable = {
        channel: [(c, agency_label(c)) for c in bindings.usable_connections(g.agency.id, channel)]
        for channel in bindings.CHANNELS
    }
    return ClientConnectionsForm(usable, bindings.agency_defaults(g.agency), prefix="delivery", **kwargs)


def _render_detail(client, form=None, invite_form=None, connections_form=None, status=200):
    form = form or ClientForm(obj=client)
    invite_form = invite_form or InviteClientUserForm(prefix="invite")
    connections_form = connections_form or _connections_form(
        data={
            "email_connection": str(client.email_connection_id or ""),
            "sms_connection": str(client.sms_connection_id or ""),
        },
    )
    users = user_service.list_client_users(client)
    return (
        render_template(
            "agency/clients/detail.html",
            client=client,
            form=form,
            invite_form=invite_form,
            connections_form=connections_form,
            routes=bindings.client_routes(g.agency, [client])[client.id],
            users=users,
            role_labels=CLIENT_ROLE_LABELS,
            user_status=user_status,
        ),
        status,
    )


@bp.route("/clients/<int:client_id>", methods=["GET", "POST"])
def client_detail(client_id: int):
    client = client_or_404(client_id)
    form = ClientForm(obj=client)
    if form.validate_on_submit():
        try:
            client_service.update_client(
                actor=_actor(),
                client=client,
                name=form.name.data,
                email_quota_month=form.email_quota_month.data,
                timezone=form.timezone.data,
                default_region=form.default_region.data,
            )
        except DomainError as exc:
            db.session.rollback()
            form.name.errors = [*form.name.errors, str(exc)]
        else:
            db.session.commit()
            flash(_("Changes saved."), "success")
            return redirect(url_for("agency.client_detail", client_id=client.id))
    return _render_detail(client, form=form, status=400 if form.errors else 200)


@bp.route("/clients/<int:client_id>/connections", methods=["POST"])
def client_connections(client_id: int):
    client = client_or_404(client_id)
    form = _connections_form()
    if form.validate_on_submit():
        try:
            changed = bindings.bind_client(
                actor=_actor(), client=client, connection_ids=form.connection_ids()
            )
        except NotFound:
            abort(404)
        except DomainError as exc:
            db.session.rollback()
            field = getattr(form, f"{getattr(exc, 'field', 'email')}_connection")
            field.errors = [*field.errors, str(exc)]
        else:
            db.session.commit()
            if changed:
                flash(_("Delivery connections of %(name)s saved.", name=client.name), "success")
            else:
                flash(_("Nothing changed."), "info")
            return redirect(url_for("agency.client_detail", client_id=client.id, _anchor="delivery"))
    return _render_detail(client, connections_form=form, status=400)


@bp.route("/clients/<int:client_id>/suspend", methods=["POST"])
def suspend_client(client_id: int):
    return _set_status(client_id, active=False)


@bp.route("/clients/<int:client_id>/reactivate", methods=["POST"])
def reactivate_client(client_id: int):
    return _set_status(client_id, active=True)


def _set_status(client_id: int, *, active: bool):
    client = client_or_404(client_id)
    client_service.set_client_status(actor=_actor(), client=client, active=active)
    db.session.commit()
    if active:
        flash(_("%(name)s is active again.", name=client.name), "success")
    else:
        flash(
            _("%(name)s is suspended: its users are signed out and cannot sign in.", name=client.name),
            "success",
        )
    return redirect(url_for("agency.client_detail", client_id=client.id))


@bp.route("/clients/<int:client_id>/users", methods=["POST"])
def invite_client_user(client_id: int):
    client = client_or_404(client_id)
    invite_form = InviteClientUserForm(prefix="invite")
    if invite_form.validate_on_submit():
        try:
            user = user_service.create_user(
                actor=_actor(),
                agency=g.agency,
                client=client,
                email=invite_form.email.data,
                name=invite_form.name.data or "",
                role=invite_form.role.data,
            )
            accounts.invite(g.agency, user, actor=_actor())
        except DomainError as exc:
            db.session.rollback()
            invite_form.email.errors = [*invite_form.email.errors, str(exc)]
        else:
            db.session.commit()
            flash(_("Invitation sent to %(email)s.", email=user.email), "success")
            return redirect(url_for("agency.client_detail", client_id=client.id))
    return _render_detail(client, invite_form=invite_form, status=400)


@bp.route("/clients/<int:client_id>/users/<int:user_id>/resend", methods=["POST"])
def resend_client_invite(client_id: int, user_id: int):
    client = client_or_404(client_id)
    try:
        user = user_service.get_user(user_id, client=client)
    except NotFound:
        abort(404)
    if user.password_hash is not None:
        flash(_("%(email)s has already accepted the invitation.", email=user.email), "warning")
    else:
        accounts.invite(g.agency, user, actor=_actor())
        db.session.commit()
        flash(_("Invitation sent again to %(email)s.", email=user.email), "success")
    return redirect(url_for("agency.client_detail", client_id=client.id))
