"""Admin: fill an account with years of data in one call (no MailUp equivalent; see prefill.py).

    POST /_emulator/accounts/{u}/prefill   {"seed": {...}}  or  {"generate": N, "seed_number": 13}
                                           → {"lists": {name: id}, "groups": {name: id}, "recipients": n}

Used by the development seed (an account to adopt in `make dev`) and by anything that drives the emulator
over HTTP; tests in the same process call prefill.prefill() on the state directly.
"""

from __future__ import annotations

from flask import Blueprint

from ..prefill import generate, prefill
from ..util import get_ci
from ..web import ApiError, body_object, json_response, state

bp = Blueprint("mailup_emulator_prefill", __name__)


@bp.post("/accounts/<username>/prefill")
def prefill_account(username: str):
    data = body_object()
    seed = get_ci(data, "seed")
    if seed is None:
        try:
            seed = generate(int(get_ci(data, "generate") or 0), seed=int(get_ci(data, "seed_number") or 13))
        except (TypeError, ValueError):
            raise ApiError(400, "generate is a number of recipients") from None
    if not isinstance(seed, dict):
        raise ApiError(400, "seed is an object (see prefill.py)")
    try:
        return json_response(prefill(state(), username, seed))
    except KeyError as exc:
        raise ApiError(404, f"unknown account or name {exc}") from None
