"""`Idempotency-Key` on POST: the same key with the same request answers what the first one answered;
the same key with a different request is refused (422); a request whose twin is still running gets 409.

The answer is stored with the client (24 hours); a Redis lock (SET NX) makes sure two concurrent
requests with one key never both run the operation. 5xx answers are not stored, so a retry runs again.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from flask import Response, current_app, g, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..jobs.queueing import redis_connection
from ..models import IdempotencyRecord
from .errors import ApiError

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)
LOCK_SECONDS = 120
MAX_KEY_LENGTH = 255


def _request_hash() -> str:
    raw = request.get_data(cache=True)
    try:
        canonical = json.dumps(json.loads(raw or b"null"), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = raw
    return hashlib.sha256(
        request.method.encode() + b" " + request.path.encode() + b"\n" + canonical
    ).hexdigest()


def _lock_name(key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{current_app.config['PORTAL_SETTINGS'].extra.get('ratelimit_prefix', 'portal')}:idem:{g.client.id}:{digest}"


def before() -> Response | None:
    """Blueprint before_request (after authentication): replay, refuse, or lock and let the view run."""
    if request.method != "POST" or g.get("api_key") is None:
        return None
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return None
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ApiError(
            400, "bad_idempotency_key", f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters."
        )
    wanted = _request_hash()
    cutoff = datetime.now(UTC) - KEEP
    # Core DELETE is not tenant-filtered: name the client. Expired answers of this client go (all of them).
    db.session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.client_id == g.client.id, IdempotencyRecord.created_at < cutoff
        )
    )
    stored = db.session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == key))
    if stored is not None:
        if stored.request_hash != wanted:
            raise ApiError(
                422,
                "idempotency_key_reused",
                f"This {HEADER} was used with a different request; use a new key for a new request.",
                {"header": [HEADER]},
            )
        resp = Response(stored.response_body, status=stored.status_code, mimetype="application/json")
        resp.headers["Idempotent-Replayed"] = "true"
        return resp
    if not redis_connection().set(_lock_name(key), "1", nx=True, ex=LOCK_SECONDS):
        raise ApiError(409, "idempotency_in_progress", f"A request with this {HEADER} is still running.")
    g.idempotency = (key, wanted)
    return None


def after(resp: Response) -> Response:
    """Blueprint after_request: keep the answer (not 5xx) and release the lock."""
    pending = g.pop("idempotency", None)
    if pending is None:
        return resp
    key, wanted = pending
    try:
        if resp.status_code < 500 and not resp.is_streamed:
            db.session.rollback()  # whatever the view left uncommitted is not part of the answer
            db.session.add(
                IdempotencyRecord(
                    agency_id=g.client.agency_id,
                    client_id=g.client.id,
                    key=key,
                    request_hash=wanted,
                    status_code=resp.status_code,
                    response_body=resp.get_data(as_text=True),
                )
            )
            try:
                db.session.commit()
            except IntegrityError:
                db.session.rollback()
    finally:
        redis_connection().delete(_lock_name(key))
    return resp
