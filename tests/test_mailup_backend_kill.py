"""The provider lease after a real SIGKILL: a worker process sending a campaign through the provider is
killed (worker_processes.kill_worker: the work-horse first) while its call is at the provider, and the
provider finishes that call after the worker died, so the answer is lost. The lease (10 minutes) keeps
everybody off the campaign until it runs out; then the sweeper queues it again and the resumed job finds
what the dead one started — no second group, message or send, and each recipient gets one message.

Held calls: the message create (the worker dies between "group created" and "send") and the send itself.
The emulator runs in this process behind a gate that holds the chosen call until the worker is dead."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from werkzeug.serving import make_server

from portal.backends.mailup.emulator import build_state
from portal.backends.mailup.emulator.app import create_app as emulator_app
from portal.providers import send as provider_send
from portal.sending.sweeper import sweep
from portal.tenancy import bind_tenant

from .mailup_backend_support import (
    ACCOUNT,
    campaign_row,
    counts,
    deliveries,
    mailup_campaign,
    run_jobs,
    start,
)
from .worker_processes import kill_worker, start_worker, worker_env

PEOPLE = [(f"person{i:02d}@example.org", f"P{i}") for i in range(25)]
HOLDS = {
    "message-create": re.compile(r"/console/list/\d+/email$"),
    "send": re.compile(r"/console/group/\d+/email/\d+/send$"),
}


class Gate:
    """WSGI middleware: the first POST whose path matches waits for `release` (after signalling
    `holding`), then goes on to the emulator — whose answer then finds its caller dead."""

    def __init__(self, app, pattern: re.Pattern):
        self.app, self.pattern = app, pattern
        self.holding, self.release, self.done = threading.Event(), threading.Event(), threading.Event()
        self.used = False

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "").lower().rstrip("/")
        if not self.used and environ["REQUEST_METHOD"] == "POST" and self.pattern.search(path):
            self.used = True
            self.holding.set()
            self.release.wait(60)
            try:
                return self.app(environ, start_response)
            finally:
                self.done.set()
        return self.app(environ, start_response)


@pytest.fixture(name="gated")
def gated_emulator(request):
    state = build_state([ACCOUNT])
    gate = Gate(emulator_app(state), HOLDS[request.param])
    server = make_server("127.0.0.1", 0, gate, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", state, gate
    gate.release.set()
    server.shutdown()
    thread.join(10)
    server.server_close()


@pytest.mark.parametrize("gated", list(HOLDS), indirect=True)
def test_a_worker_killed_mid_send_resumes_after_its_lease_without_duplicates(app, world, gated):
    url, state, gate = gated
    s = mailup_campaign(app, world, url, people=PEOPLE)
    start(app, s)
    worker = start_worker(worker_env(app))
    try:
        assert gate.holding.wait(60), "the worker never reached the held call"
        killed_at = datetime.now(UTC)
        kill_worker(worker)
    finally:
        if worker.poll() is None:
            worker.kill()
    gate.release.set()  # the provider carries out the call the dead worker made
    assert gate.done.wait(10)
    account = state.account(ACCOUNT.username)
    held_messages, held_sendings = len(account.messages), len(account.sendings)
    assert (len(account.groups), held_messages) == (1, 1)

    campaign = campaign_row(app, s)
    assert campaign.status == "sending"
    assert campaign.provider_lease_until > killed_at + timedelta(minutes=9)  # still held by the dead worker
    assert not campaign.provider_state.get("sending_id")  # the answer never arrived
    with app.app_context():
        assert sweep()["requeued"] == 0  # nobody takes over a live lease
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert provider_send.run_send(s.campaign_id) == "busy-or-done"
    assert counts(account) == (1, held_messages, held_sendings)

    with time_machine.travel(campaign.provider_lease_until + timedelta(seconds=1), tick=True):
        with app.app_context():
            assert sweep()["requeued"] == 1  # the lease ran out: the campaign is queued again
        run_jobs(app)
        campaign = campaign_row(app, s)
    assert campaign.status == "sent" and campaign.provider_state["sending_id"]
    assert campaign.provider_lease_until is None
    assert counts(account) == (1, 1, 1)  # the message was found by its notes, the send in the history
    sent = [d["address"] for d in state.deliveries(ACCOUNT.username)]
    assert sorted(sent) == sorted(a for a, _ in PEOPLE)  # each recipient once
    assert set(deliveries(app, s).values()) == {("sent", "")}
