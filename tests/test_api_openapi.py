"""The OpenAPI 3.1 document: generated from the code, valid, and obeyed by the live app (schemathesis).

The fuzzer is bounded (a few examples per operation) so the whole run stays well under a minute."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .api_support import Api, make_key

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_document_is_openapi_31_and_complete(app, world):
    resp = Api(app, world.hosts["AG1"], None).get("/openapi.json")
    assert resp.status_code == 200
    doc = resp.json
    assert doc["openapi"].startswith("3.1")
    assert doc["servers"][0]["url"].startswith(f"http://{world.hosts['AG1']}")
    paths = doc["paths"]
    for wanted in (
        "/api/v1/contacts",
        "/api/v1/contacts/bulk",
        "/api/v1/events",
        "/api/v1/campaigns/{campaign_id}/send",
        "/api/v1/sms/campaigns",
    ):
        assert wanted in paths, wanted
    posts = [op for ops in paths.values() for m, op in ops.items() if m == "post"]
    assert posts and all(any(p["name"] == "Idempotency-Key" for p in op["parameters"]) for op in posts)
    assert "mailup" not in resp.get_data(as_text=True).lower()
    validate(doc)


def test_fuzz_no_5xx_and_schema_conformance(app, world):
    """Every operation, a few generated requests each (valid and invalid): no 5xx, no status code,
    content type or body that the document does not allow."""
    host = world.hosts["AG1"]
    key = make_key(app, world, rate_limit_per_minute=6000)
    headers = {"Host": host, "Authorization": f"Bearer {key}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers={"Host": host})
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def run(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        run()
