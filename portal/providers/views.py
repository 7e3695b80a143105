"""The provider's callbacks: public (no login), answered on the agency's domain, the secret in the path.
The answer is a bare `1` (handled) or `0` (ignored), as the receivers in the reference answer."""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, request

from ..extensions import csrf, db
from ..tenancy import bind_tenant
from .webhooks import binding_for_token, handle_callback

bp = Blueprint("providerhooks", __name__)


@bp.route("/hooks/e/<token>", methods=["GET", "POST"])
@csrf.exempt
def callback(token: str):
    binding = binding_for_token(g.agency.id, token)
    if binding is None:
        abort(404)
    params = {**request.args.to_dict(), **request.form.to_dict()}
    if request.is_json and isinstance(request.get_json(silent=True), dict):
        params.update(request.get_json(silent=True))
    with bind_tenant(binding.agency_id, binding.client_id):
        handled = handle_callback(binding, params)
        db.session.commit()
    return Response("1" if handled else "0", mimetype="text/plain")
