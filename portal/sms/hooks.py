"""The SMS gateway's callbacks: public (no login), answered on the agency's domain, the connection's
secret token in the path. Delivery reports: 200 recorded or ignored, 409 "not yet" (the gateway repeats
it). Inbound replies: 200."""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, g, jsonify, request
from sqlalchemy import select

from ..extensions import csrf, db
from ..models import Connection
from ..models.connection import KIND_SMS
from ..tenancy import bind_tenant
from .inbound import record_inbound
from .reports import NOT_YET, parse_report, record_report

bp = Blueprint("smshooks", __name__)


def _connection(token: str) -> Connection:
    if len(token) < 16:
        abort(404)
    with bind_tenant(g.agency.id):
        for conn in db.session.scalars(select(Connection).where(Connection.kind == KIND_SMS)):
            if hmac.compare_digest(str((conn.options or {}).get("hook_token", "")), token):
                return conn
    abort(404)


def _payload() -> dict:
    data = request.get_json(silent=True) if request.is_json else None
    return data if isinstance(data, dict) else request.form.to_dict()


@bp.route("/hooks/sms/<token>/report", methods=["POST"])
@csrf.exempt
def report(token: str):
    connection = _connection(token)
    parsed = parse_report(_payload())
    if parsed is None:
        return jsonify(error="a report needs a status of delivered or failed"), 400
    with bind_tenant(connection.agency_id):
        outcome = record_report(connection, parsed)
        db.session.commit()
    return jsonify(result=outcome), 409 if outcome == NOT_YET else 200


@bp.route("/hooks/sms/<token>/inbound", methods=["POST"])
@csrf.exempt
def inbound(token: str):
    connection = _connection(token)
    with bind_tenant(connection.agency_id):
        reply = record_inbound(connection, _payload())
        db.session.commit()
    return jsonify(result="ok" if reply is not None else "ignored")
