"""Adoption pages, on the two blueprints that already guard their areas:

- agency area (`agency.adoption_*`): a client's "import from your previous provider account", for a client
  that sends email through a provider-side account; another agency's client answers 404 like a missing one;
- back-office (`admin.adoption_*`): the same from a connection's page, for any client of its agency (the
  only place that names the provider).

Thin: parse the form, call the service, render. The preview calls the provider (a few calls); nothing is
written until "Start the import".
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..admin import bp as admin_bp
from ..admin.common import agency_or_404
from ..agency import bp as agency_bp
from ..agency.clients import client_or_404
from ..extensions import db
from ..jobs.progress import live_values, status_payload
from ..jobs.queueing import redis_connection
from ..jobs.results import result_path
from ..models import Adoption, Client, JobRun, MailingList
from ..services import DomainError, NotFound
from ..services import connections as connection_service
from ..tenancy import bind_tenant
from . import service
from .forms import AdoptionForm


def _portal_lists(client: Client) -> list[MailingList]:
    return list(
        db.session.scalars(
            select(MailingList).where(MailingList.client_id == client.id).order_by(MailingList.name)
        )
    )


def _page(*, client, connection, area: str, start_url: str, status_url, clients=None, context=None):
    """The preview and form (GET, or POST "preview"), or start the adoption (POST "start").
    `status_url(adoption_id)` is where a started adoption is followed."""
    context = dict(context or {})
    portal_lists = _portal_lists(client)
    try:
        account = service.preview(connection, client)
    except DomainError as exc:
        return render_template(
            f"adoption/{area}_form.html",
            error=str(exc),
            client=client,
            connection=connection,
            form=None,
            preview=None,
            start_url=start_url,
            adoptions=[],
            **context,
        ), 200
    form = AdoptionForm()
    form.set_choices(account, portal_lists, clients)
    shown = account
    if request.method == "POST" and form.validate_on_submit():
        choices = {
            "list_ids": form.lists.data,
            "targets": form.targets(request.form),
            "groups_as": form.groups_as.data,
        }
        try:
            shown = service.preview(connection, client, **choices)
            if request.form.get("action") == "start":
                adoption = service.start_adoption(
                    actor=current_user,
                    connection=connection,
                    client=client,
                    confirmed=shown,
                    targets=choices["targets"],
                )
                db.session.commit()
                flash(_("The import has started. You can leave this page and come back."), "success")
                return redirect(status_url(adoption.id))
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
    return render_template(
        f"adoption/{area}_form.html",
        client=client,
        connection=connection,
        form=form,
        preview=shown,
        portal_lists=portal_lists,
        start_url=start_url,
        error=None,
        adoptions=service.adoptions_of(client, connection),
        status_url=status_url,
        **context,
    ), 400 if form.errors else 200


def _status_json(adoption, report_url: str):
    run = db.session.get(JobRun, adoption.job_run_id) if adoption.job_run_id else None
    if run is None:
        abort(404)
    live = None if run.is_final else live_values(run.id, redis_connection())
    return jsonify(status_payload(run, report_url, live))


def _report(adoption):
    run = db.session.get(JobRun, adoption.job_run_id) if adoption.job_run_id else None
    path = result_path(run) if run is not None and run.result_name else None
    if path is None or (run.expires_at is not None and run.expires_at < datetime.now(UTC)):
        abort(404)
    resp = send_file(path, mimetype="text/csv", as_attachment=True, download_name=run.result_name)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


# --- agency area ---------------------------------------------------------------------------------------


def _agency_target(client_id: int):
    client = client_or_404(client_id)
    connection = service.adoptable_connection(client)
    return client, connection


@agency_bp.route("/clients/<int:client_id>/previous-account", methods=["GET", "POST"])
def adoption_start(client_id: int):
    client, connection = _agency_target(client_id)
    if connection is None:
        return render_template(
            "adoption/agency_form.html",
            client=client,
            connection=None,
            form=None,
            preview=None,
            error=None,
            adoptions=[],
        )
    with bind_tenant(client.agency_id, client.id):
        return _page(
            client=client,
            connection=connection,
            area="agency",
            start_url=url_for("agency.adoption_start", client_id=client.id),
            status_url=lambda aid: url_for("agency.adoption_status", client_id=client.id, adoption_id=aid),
        )


def _agency_adoption(client_id: int, adoption_id: int):
    client, _connection = _agency_target(client_id)
    try:
        return client, service.get_adoption(adoption_id, client)
    except NotFound:
        abort(404)


@agency_bp.route("/clients/<int:client_id>/previous-account/<int:adoption_id>")
def adoption_status(client_id: int, adoption_id: int):
    client, adoption = _agency_adoption(client_id, adoption_id)
    return render_template("adoption/agency_status.html", client=client, adoption=adoption)


@agency_bp.route("/clients/<int:client_id>/previous-account/<int:adoption_id>.json")
def adoption_progress(client_id: int, adoption_id: int):
    report = url_for("agency.adoption_report", client_id=client_id, adoption_id=adoption_id)
    return _status_json(_agency_adoption(client_id, adoption_id)[1], report)


@agency_bp.route("/clients/<int:client_id>/previous-account/<int:adoption_id>/report")
def adoption_report(client_id: int, adoption_id: int):
    return _report(_agency_adoption(client_id, adoption_id)[1])


# --- back-office -----------------------------------------------------------------------------------------


def _admin_target(agency_id: int, connection_id: int):
    agency = agency_or_404(agency_id)
    try:
        connection = connection_service.get_connection(agency, connection_id)
    except NotFound:
        abort(404)
    if connection.kind != "mailup":
        abort(404)
    clients = list(
        db.session.scalars(select(Client).where(Client.agency_id == agency.id).order_by(Client.name))
    )
    return agency, connection, clients


@admin_bp.route("/agencies/<int:agency_id>/connections/<int:connection_id>/adopt", methods=["GET", "POST"])
def adoption_admin_start(agency_id: int, connection_id: int):
    agency, connection, clients = _admin_target(agency_id, connection_id)
    raw = request.form.get("client") or request.args.get("client") or ""
    client = next((c for c in clients if str(c.id) == raw), clients[0] if clients else None)
    if client is None:
        return render_template(
            "adoption/admin_form.html",
            agency=agency,
            connection=connection,
            client=None,
            form=None,
            preview=None,
            error=_("This agency has no clients yet."),
            adoptions=[],
        )
    with bind_tenant(agency.id, client.id):
        return _page(
            client=client,
            connection=connection,
            area="admin",
            clients=clients,
            start_url=url_for("admin.adoption_admin_start", agency_id=agency.id, connection_id=connection.id),
            status_url=lambda aid: url_for(
                "admin.adoption_admin_status",
                agency_id=agency.id,
                connection_id=connection.id,
                adoption_id=aid,
            ),
            context={"agency": agency},
        )


def _admin_adoption(agency_id: int, connection_id: int, adoption_id: int):
    agency, connection, clients = _admin_target(agency_id, connection_id)
    found = db.session.scalar(
        select(Adoption).where(Adoption.id == adoption_id, Adoption.connection_id == connection.id)
    )
    if found is None:
        abort(404)
    client = next(c for c in clients if c.id == found.client_id)
    return agency, connection, client, found


@admin_bp.route("/agencies/<int:agency_id>/connections/<int:connection_id>/adoptions/<int:adoption_id>")
def adoption_admin_status(agency_id: int, connection_id: int, adoption_id: int):
    agency, connection, client, adoption = _admin_adoption(agency_id, connection_id, adoption_id)
    return render_template(
        "adoption/admin_status.html", agency=agency, connection=connection, client=client, adoption=adoption
    )


@admin_bp.route("/agencies/<int:agency_id>/connections/<int:connection_id>/adoptions/<int:adoption_id>.json")
def adoption_admin_progress(agency_id: int, connection_id: int, adoption_id: int):
    report = url_for(
        "admin.adoption_admin_report",
        agency_id=agency_id,
        connection_id=connection_id,
        adoption_id=adoption_id,
    )
    return _status_json(_admin_adoption(agency_id, connection_id, adoption_id)[3], report)


@admin_bp.route(
    "/agencies/<int:agency_id>/connections/<int:connection_id>/adoptions/<int:adoption_id>/report"
)
def adoption_admin_report(agency_id: int, connection_id: int, adoption_id: int):
    return _report(_admin_adoption(agency_id, connection_id, adoption_id)[3])
