"""The OpenAPI 3.1 document, generated from the blueprint's routes and schemas by flask-smorest, then
completed with what is true of every operation: the JSON error answer, the Idempotency-Key header on
POST, the rate-limit answer, and the server this host is."""

from __future__ import annotations

import copy

from flask import current_app, jsonify, request

from . import bp

ERROR_REF = {"$ref": "#/components/schemas/Error"}


def build_document(host_url: str) -> dict:
    api = current_app.extensions["portal_api"]
    doc = copy.deepcopy(api.spec.to_dict())
    doc["servers"] = [{"url": host_url.rstrip("/"), "description": "this portal"}]
    doc["info"]["description"] = (
        "Send `Authorization: Bearer <key>` with a key from the client area. Errors are JSON with a stable "
        "`code`. Every POST accepts `Idempotency-Key`. Lists are paged with `limit` and `after` (the "
        "`next_cursor` of the previous page). Times are ISO 8601 in UTC."
    )
    doc["components"]["schemas"].setdefault("Error", {})
    for path, operations in doc.get("paths", {}).items():
        for method, op in operations.items():
            if method not in ("get", "post", "put", "delete", "patch"):
                continue
            responses = op.setdefault("responses", {})
            responses.pop("default", None)
            responses["default"] = {
                "description": "Error (400, 401, 403, 404, 409, 413, 422, 429)",
                "content": {"application/json": {"schema": ERROR_REF}},
            }
            if method == "post":
                op.setdefault("parameters", []).append(
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 255,
                            "pattern": "^[\\x21-\\x7e]+$",
                        },
                        "description": "Same key + same body → the same answer; same key + other body → 422",
                    }
                )
            if path.endswith("/openapi.json"):
                op["security"] = []
    return doc


@bp.route("/openapi.json", methods=["GET"])
@bp.doc(security=[])
def openapi_document():
    """This document."""
    return jsonify(build_document(request.host_url))
