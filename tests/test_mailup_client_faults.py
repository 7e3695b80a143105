"""The MailUp client when things go wrong, over real HTTP: every error shape mapped to our exceptions with
a neutral detail, the shared rate limit across two clients, a storm of 429s, Retry-After, a 500 then
recovery, what is and is not repeated, timeouts. Calls are counted; nothing is timed."""

from __future__ import annotations

import json
import socket
import threading
from email.utils import formatdate

import pytest

from portal.backends.base import BackendError, BackendUnavailable
from portal.backends.mailup import (
    MailupBadAnswer,
    MailupForbidden,
    MailupNotFound,
    MailupOutcomeUnknown,
    MailupRateLimited,
    MailupRequestRefused,
    MailupTermsNotAccepted,
    MailupTimeout,
    MailupUnavailable,
    Recipient,
)

from .test_mailup_client_support import (  # noqa: F401 (fixtures)
    ACCOUNT,
    FakeClock,
    RecordingSession,
    RecordingSleep,
    Scripted,
    emulator_fixture,
    key_fixture,
    make_client,
    redis_fixture,
    scripted_fixture,
)


def _error(code, description, name=None) -> str:
    return json.dumps(
        {"ErrorCode": code, "ErrorDescription": description, "ErrorName": name, "ErrorStack": None}
    )


SHAPES = [
    # (status, body, exception, code, description)
    (400, _error("400", "Generic Error", "BadRequest"), MailupRequestRefused, "400", "Generic Error"),
    (400, json.dumps({"ErrorDescription": "Generic Error"}), MailupRequestRefused, "", "Generic Error"),
    (400, _error(400, "numeric code"), MailupRequestRefused, "400", "numeric code"),
    (404, _error("404", "List 7 not found", "NotFound"), MailupNotFound, "404", "List 7 not found"),
    (
        403,
        _error(
            "403",
            "Authorization error: Contract not signed, please login in console and accept terms of service.",
            "Forbidden",
        ),
        MailupTermsNotAccepted,
        "403",
        "Authorization error: Contract not signed, please login in console and accept terms of service.",
    ),
    (
        403,
        _error("403", "Resource outside the user's scope", "Forbidden"),
        MailupForbidden,
        "403",
        "Resource",
    ),
    (
        409,
        "<Error><ErrorCode>409</ErrorCode><ErrorDescription>Conflict on the list</ErrorDescription></Error>",
        MailupRequestRefused,
        "409",
        "Conflict on the list",
    ),
    (500, "<html><body><h1>Server Error</h1></body></html>", MailupUnavailable, "", "Server Error"),
    (503, "", MailupUnavailable, "503", ""),
    (
        400,
        json.dumps({"error": "invalid_request", "error_description": "bad"}),
        MailupRequestRefused,
        "invalid_request",
        "bad",
    ),
]


@pytest.mark.parametrize(("status", "body", "exc", "code", "description"), SHAPES)
def test_every_error_shape_is_mapped_with_a_neutral_detail(
    scripted, redis, key, status, body, exc, code, description
):
    client, _ = make_client(scripted.url, redis, key=key, max_retries=0)
    scripted.script.append(Scripted(status, body))

    with pytest.raises(exc) as caught:
        client.account_info()

    err = caught.value
    assert isinstance(err, BackendError)
    assert err.status == status and err.code == code and description in err.description
    assert err.call == "GET /Console/Authentication/Info"
    assert "mailup" not in err.detail.lower() and str(err) == err.detail
    assert "the delivery service" in err.detail
    assert description in err.log_text() and str(status) in err.log_text()
    assert isinstance(err, BackendUnavailable) == (status >= 500 or status == 403)


def test_an_unreadable_success_is_a_bad_answer(scripted, redis, key):
    client, _ = make_client(scripted.url, redis, key=key)
    scripted.script.append(Scripted(200, "<html>maintenance</html>"))

    with pytest.raises(MailupBadAnswer) as caught:
        client.account_info()
    assert "mailup" not in caught.value.detail.lower() and "maintenance" in caught.value.description


def test_errors_from_the_emulator(emulator, redis, key):
    url, _ = emulator
    client, _ = make_client(url, redis, key=key)
    with pytest.raises(MailupNotFound) as missing:
        client.groups(99)
    assert missing.value.code == "404" and "99" in missing.value.description
    with pytest.raises(MailupRequestRefused) as refused:
        client.subscribe(Recipient("not-an-address"), list_id=1)
    assert refused.value.status == 400 and "invalid email" in refused.value.description
    for err in (missing.value, refused.value):
        assert "mailup" not in err.detail.lower()


# --- rate limit ---------------------------------------------------------------------------------------


def _run_together(clients, calls_each: int) -> list:
    failures = []

    def work(client):
        try:
            for _ in range(calls_each):
                client.account_info()
        except Exception as exc:  # reported below, with the thread's call counts
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return failures


def _most_in_one_second(sessions) -> int:
    times = sorted(e.sent_at for s in sessions for e in s.api())
    return max(sum(1 for u in times if t <= u < t + 1.0) for t in times)


def test_two_clients_sharing_redis_never_exceed_the_account_rate(emulator, redis, key):
    url, handle = emulator
    handle.state.set_rate_limit(5)
    a, a_session = make_client(url, redis, key=key, rate_per_s=5, account_key=key + "-shared")
    b, b_session = make_client(url, redis, key=key, rate_per_s=5, account_key=key + "-shared")

    failures = _run_together([a, b], 8)

    assert failures == []
    statuses = [e.status for s in (a_session, b_session) for e in s.api()]
    assert len(statuses) == 16 and set(statuses) == {200}  # the emulator never had to refuse one
    assert _most_in_one_second([a_session, b_session]) <= 6  # 5 per second, a boundary call at most

    # The control: the same two clients with a bucket each go over the account's limit.
    handle.state.set_rate_limit(5)
    c, c_session = make_client(url, redis, key=key, rate_per_s=5, account_key=key + "-c", max_retries=0)
    d, d_session = make_client(url, redis, key=key, rate_per_s=5, account_key=key + "-d", max_retries=0)
    failures = _run_together([c, d], 8)
    assert any(isinstance(f, MailupRateLimited) for f in failures)
    assert 429 in [e.status for s in (c_session, d_session) for e in s.api()]


def test_a_storm_of_429s_backs_off_and_gets_through(emulator, redis, key):
    url, handle = emulator
    handle.state.set_rate_limit(2)  # the account allows less than we were configured for
    sleeps = [RecordingSleep(), RecordingSleep()]
    clients = [
        make_client(
            url,
            redis,
            key=key,
            rate_per_s=10,
            account_key=key + "-storm",
            max_retries=8,
            sleep=s,
            backoff_base_s=0.2,
        )
        for s in sleeps
    ]

    failures = _run_together([c for c, _ in clients], 5)

    assert failures == []
    exchanges = [e for _, s in clients for e in s.api()]
    assert [e.status for e in exchanges].count(200) == 10
    throttled = [e for e in exchanges if e.status == 429]
    assert throttled, "the emulator's limit should have answered 429"
    assert len(exchanges) <= 10 * 9  # bounded: at most 1 + max_retries attempts per call
    assert sum(c.stats.throttled for c, _ in clients) == len(throttled)
    assert sum(len(s.calls) for s in sleeps) == len(throttled)  # one pause per 429


def test_retry_after_is_honoured(scripted, redis, key):
    sleep = RecordingSleep(cap=0)
    client, _ = make_client(scripted.url, redis, key=key, sleep=sleep, backoff_base_s=0.1)
    scripted.script += [
        Scripted(429, _error("429", "Too many requests"), {"Retry-After": "2"}),
        Scripted(200, "{}"),
    ]

    client.account_info()

    assert len(scripted.received) == 2
    (pause,) = sleep.calls
    assert 2 <= pause < 2.1


def test_retry_after_as_an_http_date(scripted, redis, key):
    clock, sleep = FakeClock(), RecordingSleep(cap=0)
    client, _ = make_client(scripted.url, redis, key=key, sleep=sleep, clock=clock, backoff_base_s=0.1)
    when = formatdate(clock.now + 5, usegmt=True)
    scripted.script += [Scripted(503, "", {"Retry-After": when}), Scripted(200, "{}")]

    client.account_info()

    (pause,) = sleep.calls
    assert 4 <= pause < 5.1  # the date has whole seconds


def test_a_retry_after_too_long_to_wait_is_handed_to_the_caller(scripted, redis, key):
    sleep = RecordingSleep(cap=0)
    client, _ = make_client(scripted.url, redis, key=key, sleep=sleep)
    scripted.script.append(Scripted(429, _error("429", "Too many requests"), {"Retry-After": "600"}))

    with pytest.raises(MailupRateLimited) as caught:
        client.account_info()

    assert caught.value.retry_after == 600 and len(scripted.received) == 1 and sleep.calls == []
    assert "mailup" not in caught.value.detail.lower()


def test_the_older_403_rate_limit_answer_is_retried(scripted, redis, key):
    sleep = RecordingSleep(cap=0)
    client, _ = make_client(scripted.url, redis, key=key, sleep=sleep, max_retries=2)
    too_many = _error(
        "403", "Authorization error (too_many_requests): Too many requests. Max:5 calls per second"
    )
    scripted.script += [Scripted(403, too_many), Scripted(403, too_many), Scripted(200, "{}")]
    client.account_info()
    assert len(scripted.received) == 3

    scripted.received.clear()
    scripted.script += [Scripted(403, too_many)] * 3
    with pytest.raises(MailupRateLimited):
        client.account_info()
    assert len(scripted.received) == 3  # 1 + max_retries, then it gives up


# --- 5xx ----------------------------------------------------------------------------------------------


def test_a_500_then_recovery(emulator, redis, key):
    url, handle = emulator
    sleep = RecordingSleep(cap=0)
    client, session = make_client(url, redis, key=key, sleep=sleep)
    handle.state.inject_fault(500, 2, username=ACCOUNT.username, path="/authentication/info")

    assert client.account_info().username == ACCOUNT.username

    assert [e.status for e in session.api()] == [500, 500, 200]
    first, second = sleep.calls
    assert second >= first > 0  # exponential backoff (with jitter)


def test_5xx_on_a_call_that_must_not_be_repeated_is_an_unknown_outcome(emulator, redis, key):
    url, handle = emulator
    client, session = make_client(url, redis, key=key)
    handle.state.inject_fault(500, 1, username=ACCOUNT.username, path="/group")

    with pytest.raises(MailupOutcomeUnknown) as caught:
        client.create_group(1, "Campaign 12")

    assert [e.method for e in session.api()] == ["POST"]  # not repeated blindly
    assert "mailup" not in caught.value.detail.lower() and caught.value.status == 500
    # The caller looks before creating again (here the fault came before the group was made).
    assert client.find_group(1, "Campaign 12") is None
    assert client.create_group(1, "Campaign 12").name == "Campaign 12"


def test_5xx_on_a_repeatable_post_is_retried(emulator, redis, key):
    url, handle = emulator
    client, session = make_client(url, redis, key=key, sleep=RecordingSleep(cap=0))
    handle.state.inject_fault(503, 1, username=ACCOUNT.username, path="/list/1/recipient")

    rid = client.subscribe(Recipient("again@example.com"), list_id=1)

    assert isinstance(rid, int)
    assert [e.status for e in session.api()] == [503, 200]


def test_5xx_retries_are_bounded(emulator, redis, key):
    url, handle = emulator
    client, session = make_client(url, redis, key=key, max_retries=2, sleep=RecordingSleep(cap=0))
    handle.state.inject_fault(503, 10, username=ACCOUNT.username, path="/groups")

    with pytest.raises(MailupUnavailable) as caught:
        client.groups(1)

    assert [e.status for e in session.api()] == [503, 503, 503]
    assert caught.value.status == 503 and caught.value.code == "503"


# --- timeouts and connections -------------------------------------------------------------------------


def test_every_call_carries_a_connect_and_a_read_timeout(emulator, redis, key):
    url, _ = emulator
    client, session = make_client(url, redis, key=key, connect_timeout_s=2.5, read_timeout_s=7)
    client.account_info()
    client.groups(1)
    assert session.log and all(e.timeout == (2.5, 7) for e in session.log)


def test_read_timeout_is_honoured_and_retried_when_safe(scripted, redis, key):
    sleep = RecordingSleep(cap=0)
    client, _ = make_client(scripted.url, redis, key=key, read_timeout_s=0.3, max_retries=2, sleep=sleep)
    scripted.script += [Scripted(hang=True)] * 3

    with pytest.raises(MailupTimeout) as caught:
        client.account_info()

    assert len(scripted.received) == 3 and len(sleep.calls) == 2
    assert caught.value.detail == "the delivery service did not answer in time"


def test_read_timeout_on_a_send_is_not_repeated(scripted, redis, key):
    client, _ = make_client(scripted.url, redis, key=key, read_timeout_s=0.3, max_retries=2)
    scripted.script.append(Scripted(hang=True))

    with pytest.raises(MailupOutcomeUnknown) as caught:
        client.send_to_group(3, 4)

    assert scripted.received == ["POST /API/v1.1/Rest/ConsoleService.svc/Console/Group/3/Email/4/Send"]
    assert "mailup" not in caught.value.detail.lower()


def test_a_refused_connection_is_retried_even_for_a_send(scripted, redis, key):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleep = RecordingSleep(cap=0)
    client, session = make_client(
        scripted.url,  # the token comes from here, the console is unreachable
        redis,
        key=key,
        console_url=f"http://127.0.0.1:{port}/API/v1.1/Rest/ConsoleService.svc",
        max_retries=2,
        sleep=sleep,
    )

    with pytest.raises(MailupUnavailable) as caught:
        client.send_to_group(3, 4)  # nothing was sent, so trying again cannot send twice

    assert not isinstance(caught.value, MailupOutcomeUnknown)
    assert caught.value.detail == "cannot reach the delivery service"
    assert [e.status for e in session.api()] == [None, None, None] and len(sleep.calls) == 2
