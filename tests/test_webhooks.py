"""Outbound webhooks: Standard Webhooks signatures checked by an independent verifier, secret rotation,
retries with backoff, replay, automatic disable with a notice, and the SSRF guard (checklist group F)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from portal import netguard
from portal.extensions import db
from portal.models import Client, Event, Webhook, WebhookDelivery
from portal.services import DomainError
from portal.tenancy import bind_tenant
from portal.webhooks import dispatch, endpoints

from .api_support import api_for


class Receiver:
    """A real HTTP endpoint on 127.0.0.1 answering the statuses it is told, recording what it got."""

    def __init__(self):
        self.requests, self.statuses = [], []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((dict(self.headers), body))
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self):
        self.server.shutdown()


def verify(secret: str, headers: dict, body: bytes) -> bool:
    """Independent Standard Webhooks verifier (as a receiver would write it from the spec)."""
    key = base64.b64decode(secret.split("_", 1)[1])
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{body.decode()}".encode()
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return any(
        sig.split(",", 1)[1] == expected
        for sig in headers["webhook-signature"].split(" ")
        if sig.startswith("v1,")
    )


@pytest.fixture
def receiver(app, monkeypatch):
    settings = app.config["PORTAL_SETTINGS"]
    monkeypatch.setitem(
        app.config, "PORTAL_SETTINGS", dataclasses.replace(settings, outbound_allow_localhost=True)
    )
    r = Receiver()
    yield r
    r.close()


def _tenant(world):
    return bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"])


def _hook(app, world, url, events=("open", "subscribe")):
    with app.app_context(), _tenant(world):
        client = db.session.get(Client, world.client_ids["A1"])
        hook, secret = endpoints.create_webhook(actor=None, client=client, url=url, events=list(events))
        db.session.commit()
        return hook.id, secret


def _event(app, world, pid: str, kind: str = "open"):
    with app.app_context(), _tenant(world):
        db.session.add(Event(kind=kind, channel="email", source="portal", provider_event_id=pid))
        db.session.commit()


def _round(app, world, now=None) -> list[str]:
    with app.app_context(), _tenant(world):
        dispatch.dispatch_client(world.client_ids["A1"])
        db.session.commit()
        outcomes = [dispatch.deliver(i, now) for i in dispatch.due_deliveries(now)]
        db.session.commit()
        return outcomes


def _deliveries(app, world) -> list[WebhookDelivery]:
    with app.app_context(), _tenant(world):
        rows = list(db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
        db.session.expunge_all()
        return rows


def test_signed_delivery_verified_independently_and_rotation_signs_twice(app, world, receiver):
    hook_id, secret = _hook(app, world, receiver.url)
    _event(app, world, "first")
    assert _round(app, world) == ["succeeded"]
    headers, body = receiver.requests[-1]
    assert verify(secret, headers, body)
    payload = json.loads(body)
    assert payload["type"] == "open" and payload["data"]["type"] == "email.opened"
    with app.app_context(), _tenant(world):
        client = db.session.get(Client, world.client_ids["A1"])
        new_secret = endpoints.rotate_secret(actor=None, client=client, hook=db.session.get(Webhook, hook_id))
        db.session.commit()
    _event(app, world, "after-rotation")
    assert _round(app, world) == ["succeeded"]
    headers, body = receiver.requests[-1]
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert verify(secret, headers, body) and verify(new_secret, headers, body)
    assert not verify("whsec_" + base64.b64encode(b"x" * 32).decode(), headers, body)


def test_other_clients_events_never_reach_the_endpoint(app, world, receiver):
    _hook(app, world, receiver.url)
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A2"]):
        db.session.add(Event(kind="open", channel="email", source="portal", provider_event_id="a2"))
        db.session.commit()
    assert _round(app, world) == []
    assert receiver.requests == []


def test_retries_back_off_then_succeed_with_the_same_id_and_replay(app, world, receiver):
    _hook(app, world, receiver.url)
    _event(app, world, "r1")
    receiver.statuses = [500, 503]
    now = datetime.now(UTC) + timedelta(seconds=2)  # the delivery is made (and due) a moment after
    assert _round(app, world, now) == ["retry"]
    first = _deliveries(app, world)[0]
    assert first.last_status_code == 500 and first.attempts == 1
    wait = (first.next_attempt_at - now).total_seconds()
    assert 4 <= wait <= 6  # 5 s ± 20% jitter
    assert _round(app, world, now) == []  # not due yet
    later = now + timedelta(seconds=10)
    assert _round(app, world, later) == ["retry"]
    second = _deliveries(app, world)[0]
    assert 240 <= (second.next_attempt_at - later).total_seconds() <= 360
    assert _round(app, world, later + timedelta(minutes=10)) == ["succeeded"]
    ids = {h["webhook-id"] for h, _ in receiver.requests}
    assert len(ids) == 1 and len(receiver.requests) == 3
    done = _deliveries(app, world)[0]
    assert done.status == "succeeded" and len(done.attempt_log) == 3
    with app.app_context(), _tenant(world):
        dispatch.replay(db.session.get(WebhookDelivery, done.id))
        db.session.commit()
    assert _round(app, world) == ["succeeded"]
    assert receiver.requests[-1][0]["webhook-id"] in ids


def test_persistent_failure_disables_the_endpoint_and_tells_the_admins(app, world, receiver, outbox):
    hook_id, _ = _hook(app, world, receiver.url)
    _event(app, world, "f1")
    receiver.statuses = [500] * 20
    now = datetime.now(UTC) + timedelta(seconds=2)  # the delivery is made (and due) a moment after
    outcomes = []
    for _ in range(len(dispatch.RETRY_SCHEDULE) + 1):
        outcomes += _round(app, world, now)
        now += timedelta(hours=12)
    assert outcomes[-1] == "failed" and outcomes.count("retry") == len(dispatch.RETRY_SCHEDULE)
    with app.app_context(), _tenant(world):
        hook = db.session.get(Webhook, hook_id)
        assert not hook.enabled and "kept failing" in hook.disabled_reason
    from .support import run_jobs

    run_jobs(app)
    assert outbox.to(world.users["A1.admin"]), "the client's admin was told"


def test_410_gone_disables_at_once(app, world, receiver):
    hook_id, _ = _hook(app, world, receiver.url)
    _event(app, world, "g1")
    receiver.statuses = [410]
    assert _round(app, world) == ["failed"]
    with app.app_context(), _tenant(world):
        assert not db.session.get(Webhook, hook_id).enabled


SSRF_URLS = [
    "http://127.0.0.1:6379/",
    "http://[::1]/",
    "http://0.0.0.0/",
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://[::ffff:127.0.0.1]/",
    "http://10.0.0.5/",
    "http://192.168.1.1:22/",
    "http://100.64.0.1/",
    "http://[fe80::1]/",
    "http://localhost/",
    "file:///etc/passwd",
    "gopher://example.com/",
    "ftp://example.com/",
    "http://user:pw@example.com/",
]


@pytest.mark.parametrize("url", SSRF_URLS)
def test_guard_blocks_the_checklist_payloads(url):
    with pytest.raises(netguard.Blocked):
        netguard.check_url(url)


def test_guard_checks_the_resolved_address_and_connects_to_it(monkeypatch):
    """A public-looking name resolving to 10.x is refused; a name's resolved address is what is used."""
    answers = {"evil.example": "10.1.2.3", "rebind.example": "93.184.216.34"}

    def fake_getaddrinfo(host, port, *a, **kw):
        return [(2, 1, 6, "", (answers[host], port))]

    monkeypatch.setattr(netguard.socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(netguard.Blocked, match="private"):
        netguard.check_url("http://evil.example/")
    target = netguard.check_url("https://rebind.example/x?y=1")
    assert target.address == "93.184.216.34" and target.host == "rebind.example" and target.path == "/x?y=1"
    answers["rebind.example"] = "127.0.0.1"  # the name now points inside: refused at delivery time
    with pytest.raises(netguard.Blocked):
        netguard.post("http://rebind.example/", b"{}", {})


def test_redirects_are_not_followed(app, receiver):
    receiver.statuses = [302]
    answer = netguard.post(receiver.url, b"{}", {}, allow_localhost=True)
    assert answer.status == 302 and len(receiver.requests) == 1


def test_saving_a_blocked_url_is_refused(app, world):
    with app.app_context(), _tenant(world):
        client = db.session.get(Client, world.client_ids["A1"])
        with pytest.raises(DomainError):
            endpoints.create_webhook(
                actor=None, client=client, url="http://169.254.169.254/", events=["open"]
            )


def test_api_subscribe_reaches_a_webhook(app, world, receiver):
    hook_id, secret = _hook(app, world, receiver.url, events=("subscribe",))
    api = api_for(app, world)
    list_id = api.post("/lists", json={"name": "Hooks"}).json["id"]
    api.post("/contacts", json={"email": "hooked@example.com", "lists": [list_id]})
    import time

    deadline = time.monotonic() + 60
    while not receiver.requests and time.monotonic() < deadline:
        _round(app, world)
        time.sleep(0.2)
    headers, body = receiver.requests[0]
    assert verify(secret, headers, body)
    assert json.loads(body)["data"]["contact"]["email"] == "hooked@example.com"


def test_import_and_campaign_finished_are_delivered_once(app, world, receiver):
    from .reports_support import sent_campaign

    _, secret = _hook(app, world, receiver.url, events=("import_finished", "campaign_finished"))
    api = api_for(app, world)
    list_id = api.post("/lists", json={"name": "Bulk"}).json["id"]
    api.post("/contacts/bulk", json={"lists": [list_id], "contacts": [{"email": "m1@example.com"}]})
    from .support import run_jobs

    run_jobs(app)
    sent_campaign(app, world, ["m2@example.com"])
    _round(app, world)
    _round(app, world)  # a second round finds nothing new
    types = sorted(json.loads(b)["type"] for h, b in receiver.requests if verify(secret, h, b))
    assert types == ["campaign_finished", "import_finished"]
    bodies = {json.loads(b)["type"]: json.loads(b)["data"] for _, b in receiver.requests}
    assert bodies["import_finished"]["data"]["created_count"] == 1
    assert bodies["campaign_finished"]["data"]["status"] == "sent"


class _Slow(BaseHTTPRequestHandler):
    """An endpoint that answers a huge body slowly (a tarpit)."""

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(10_000_000))
        self.end_headers()
        try:
            for _ in range(1000):
                self.wfile.write(b"x" * 10_000)
                time.sleep(0.01)
        except OSError:
            pass  # the guard stopped reading and closed the connection

    def log_message(self, *a):
        pass


def test_response_size_cap_and_total_timeout():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        answer = netguard.post(url, b"{}", {}, allow_localhost=True, max_bytes=50_000)
        assert answer.status == 200 and len(answer.body) == 50_000
        # No size cap this time: only the total timeout stops the reading, well before the 10 MB end.
        answer = netguard.post(url, b"{}", {}, allow_localhost=True, total_timeout=0.3, max_bytes=10**9)
        assert len(answer.body) < 10_000_000
    finally:
        server.shutdown()


def test_the_periodic_job_and_the_worker_deliver_each_clients_events_to_its_own_endpoint(
    app, world, receiver
):
    """The real path: the periodic round (tenant filter opted out) and delivery jobs on a burst worker."""
    from portal.jobs.runner import execute

    from .support import run_jobs

    _hook(app, world, receiver.url)
    other = Receiver()
    try:
        with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A2"]):
            client = db.session.get(Client, world.client_ids["A2"])
            endpoints.create_webhook(actor=None, client=client, url=other.url, events=["open"])
            db.session.commit()
        _event(app, world, "a1-only")
        with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A2"]):
            db.session.add(Event(kind="open", channel="email", source="portal", provider_event_id="a2-only"))
            db.session.commit()
        result = execute("webhooks.round", None, None, {})
        assert result == {"deliveries_made": 2, "attempts_queued": 2}
        run_jobs(app)
        mine = [json.loads(b)["data"]["id"] for _, b in receiver.requests]
        theirs = [json.loads(b)["data"]["id"] for _, b in other.requests]
        assert len(mine) == len(theirs) == 1 and mine != theirs
        with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
            a1_event = db.session.scalar(select(Event.id).where(Event.provider_event_id == "a1-only"))
        assert mine == [f"evt_{a1_event}"]
    finally:
        other.close()
