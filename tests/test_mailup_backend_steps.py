"""The provider-side campaign backend (portal/backends/mailup/campaign.py) against the emulator over real
HTTP: each step once, a worker that dies between or inside steps resumes without a second group,
message or sending, and events pulled twice are the same events."""

from __future__ import annotations

import pytest

from portal.backends.base import AudienceMember
from portal.backends.mailup.campaign import MailupCampaign

from .test_mailup_client_support import (  # noqa: F401 (fixtures)
    ACCOUNT,
    RecordingSleep,
    emulator_fixture,
    key_fixture,
    make_client,
    redis_fixture,
)


class Died(Exception):
    """The worker stopped here."""


class Recorder:
    """What the caller commits: every update merged into one state; optionally dies at one update."""

    def __init__(self, die_on: str | None = None):
        self.state, self.die_on, self.updates = {"ref": "c7-test"}, die_on, []

    def __call__(self, updates: dict) -> None:
        if self.die_on and self.die_on in updates:
            self.die_on = None
            raise Died(self.die_on)
        self.updates.append(dict(updates))
        self.state.update(updates)


@pytest.fixture
def setup(emulator, redis, key):
    url, handle = emulator
    client, session = make_client(url, redis, key=key, sleep=RecordingSleep(cap=0.05))
    return client, handle.state, handle.state.account(ACCOUNT.username)


def _members(n: int, start: int = 1) -> list[AudienceMember]:
    return [AudienceMember(i, f"m{i}@example.com", {1: f"Name {i}"}) for i in range(start, start + n)]


def _run(backend: MailupCampaign, rec: Recorder, members) -> None:
    backend.sync_audience(rec.state, members, total=len(members))
    backend.create_message(rec.state, subject="Hello [nome]", html="<p>Hi [nome]</p>")
    backend.send(rec.state)


def test_small_audience_subscribes_and_sends_once(setup):
    client, state, account = setup
    rec = Recorder()
    backend = MailupCampaign(client, 1, record=rec)
    _run(backend, rec, _members(3))
    _run(backend, rec, _members(3))  # everything recorded: nothing is done again

    assert len(account.groups) == 1 and len(account.messages) == 1 and len(account.sendings) == 1
    assert not account.imports  # small: synchronous subscribes
    assert {d["address"] for d in state.deliveries(ACCOUNT.username)} == {
        f"m{i}@example.com" for i in (1, 2, 3)
    }
    assert rec.state["sent_count"] == 3 and rec.state["pushed_through"] == 3
    assert account.recipients[account.by_email["m1@example.com"]].fields[1] == "Name 1"


def test_large_audience_imports_in_batches(setup):
    client, state, account = setup
    rec = Recorder()
    backend = MailupCampaign(client, 1, record=rec, sync_max=5, import_batch=40)
    _run(backend, rec, _members(100))

    assert len(account.imports) == 3  # 40 + 40 + 20
    assert len(state.deliveries(ACCOUNT.username)) == 100
    assert [u["pushed_through"] for u in rec.updates if "pushed_through" in u] == [40, 80, 100]


@pytest.mark.parametrize("dies_at", ["group_id", "pushed_through", "message_id", "sending_id"])
def test_a_worker_killed_anywhere_resumes_without_duplicates(setup, dies_at):
    """`dies_at`: the call was made, the worker died before recording its answer."""
    client, state, account = setup
    rec = Recorder(die_on=dies_at)
    members = _members(60)
    with pytest.raises(Died):
        _run(MailupCampaign(client, 1, record=rec, sync_max=5, import_batch=25), rec, members)
    _run(MailupCampaign(client, 1, record=rec, sync_max=5, import_batch=25), rec, members)

    assert len(account.groups) == 1
    assert len(account.messages) == 1
    assert len(account.sendings) == 1
    assert len(state.deliveries(ACCOUNT.username)) == 60


def test_pulling_twice_gives_the_same_event_ids(setup):
    client, state, account = setup
    rec = Recorder()
    backend = MailupCampaign(client, 1, record=rec)
    _run(backend, rec, _members(4))
    mid, user = rec.state["message_id"], ACCOUNT.username
    state.simulate(user, "view", mid, "m1@example.com")
    state.simulate(user, "view", mid, "m1@example.com")
    state.simulate(user, "click", mid, "m2@example.com", url="https://shop.example/a")
    state.simulate(user, "hard_bounce", mid, "m3@example.com")
    state.simulate(user, "unsubscribe", mid, "m4@example.com")

    events, cursor = backend.pull_events(rec.state, {})
    first = list(events)
    kinds = sorted(e.kind for e in first)
    assert kinds == ["bounce", "click", "delivered", "delivered", "delivered", "open", "open", "unsubscribe"]
    (click,) = [e for e in first if e.kind == "click"]
    assert click.detail == "https://shop.example/a" and click.address == "m2@example.com"
    (bounce,) = [e for e in first if e.kind == "bounce"]
    assert bounce.bounce_class == "hard"

    again, cursor = backend.pull_events(rec.state, cursor)
    assert {e.provider_event_id for e in again} <= {e.provider_event_id for e in first}

    state.simulate(user, "view", mid, "m1@example.com")
    third, _ = backend.pull_events(rec.state, cursor)
    new = {e.provider_event_id for e in third} - {e.provider_event_id for e in first}
    assert len(new) == 1  # the third open

    optouts = {o.address: o.kind for o in backend.list_optouts()}
    assert optouts == {"m3@example.com": "bounce", "m4@example.com": "unsubscribe"}
