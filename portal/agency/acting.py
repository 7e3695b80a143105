""" "Act as client": agency staff work inside one of the agency's client accounts, audited both ways."""

from __future__ import annotations

from flask import g, redirect, session, url_for
from flask_login import current_user

from ..extensions import db
from ..services.audit import record
from . import bp
from .clients import client_or_404


@bp.route("/clients/<int:client_id>/act", methods=["POST"])
def act_as_client(client_id: int):
    client = client_or_404(client_id)  # tenant-filtered: another agency's client is a 404
    session["acting_client_id"] = client.id
    record(
        "client.act_as",
        actor=current_user._get_current_object(),
        agency_id=g.agency.id,
        client_id=client.id,
        target=client.slug,
        acting_as_client=client.name,  # who (the actor) and whom (this client), in one row
    )
    db.session.commit()
    return redirect(url_for("client.dashboard"))


@bp.route("/stop-acting", methods=["POST"])
def stop_acting():
    client_id = session.pop("acting_client_id", None)
    client = g.get("client")
    if client_id is not None and client is not None:
        record(
            "client.act_as_stopped",
            actor=current_user._get_current_object(),
            agency_id=g.agency.id,
            client_id=client.id,
            target=client.slug,
        )
        db.session.commit()
    return redirect(
        url_for("agency.client_detail", client_id=client.id) if client else url_for("agency.dashboard")
    )
