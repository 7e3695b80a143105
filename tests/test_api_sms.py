"""SMS send through the API: one call creates the SMS campaign for an audience and sends it through the
SMS feature (sender id, credits, gateway); the gateway's delivery reports come back in the events feed."""

from __future__ import annotations

import time

import pytest

from .api_support import api_for
from .sms_support import LivePortal, setup_client, start_gateway
from .support import run_jobs

OK1, OK2 = "+393471234567", "+393471234568"


@pytest.fixture
def live(app):
    server = LivePortal(app)
    yield server
    server.stop()


@pytest.fixture
def gateway(live):
    url, handle = start_gateway(live.url)
    yield handle
    handle.stop()


def test_sms_send_and_delivery_reports_in_the_feed(app, world, gateway):
    s = setup_client(app, world, "A1", gateway.url, [OK1, OK2], pool=100, credits_to_give=40)
    api = api_for(app, world, rate_limit_per_minute=6000)
    resp = api.post(
        "/sms/campaigns",
        json={"name": "Flash sale", "text": "Saldi oggi!", "audience": {"lists": [s.list_id]}},
    )
    assert resp.status_code == 202, resp.json
    assert resp.json["channel"] == "sms" and resp.json["status"] == "sending" and resp.json["recipients"] == 2
    run_jobs(app)
    assert sorted(m.to for m in gateway.state.messages) == [OK1, OK2]
    gateway.state.flush_reports()
    seen, after, deadline = [], None, time.monotonic() + 60
    while len(seen) < 2 and time.monotonic() < deadline:
        page = api.get("/events" + (f"?after={after}" if after else "")).json
        seen += [i for i in page["data"] if i["type"].startswith("sms.")]
        after = page["next_cursor"]
        time.sleep(0.1)
    assert sorted(i["contact"]["phone"] for i in seen) == [OK1, OK2]


def test_sms_send_needs_the_send_scope_and_a_valid_audience(app, world):
    reader = api_for(app, world, scopes=("read", "write"))
    resp = reader.post("/sms/campaigns", json={"name": "x", "text": "y", "audience": {"lists": [1]}})
    assert resp.status_code == 403 and resp.json["error"]["code"] == "insufficient_scope"
    sender = api_for(app, world)
    resp = sender.post(
        "/sms/campaigns", json={"name": "x", "text": "y", "audience": {"lists": [1], "exclude_lists": [2]}}
    )
    assert resp.status_code == 422 and resp.json["error"]["code"] == "unsupported_audience"
