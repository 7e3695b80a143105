"""The MailUp client's OAuth2 against the emulator over real HTTP, with the token shared in a real Redis:
each credential form, one token for every client of a connection, renewal before expiry, the rotating
refresh token, one renewal and retry on a 401, the password grant when the refresh is refused."""

from __future__ import annotations

import base64
import json
import threading

import pytest

from portal.backends.mailup import MailupAuthError, MailupConfig, MailupUnavailable
from portal.backends.mailup.auth import TokenCache

from .test_mailup_client_support import (  # noqa: F401 (fixtures)
    ACCOUNT,
    FakeClock,
    emulator_fixture,
    key_fixture,
    make_client,
    redis_fixture,
)


def _cached(redis, key) -> dict:
    return json.loads(redis.get(f"portal:mailup:token:{key}"))


@pytest.mark.parametrize("form", ["both", "body", "basic"])
def test_password_grant_with_each_credential_form(emulator, redis, key, form):
    url, _ = emulator
    client, session = make_client(url, redis, key=key, client_credentials=form)

    info = client.account_info()

    assert info.username == ACCOUNT.username and info.uid
    (grant,) = session.tokens()
    assert grant.status == 200 and grant.method == "POST"
    assert grant.form["grant_type"] == "password"
    assert grant.form["username"] == ACCOUNT.username and grant.form["password"] == ACCOUNT.password
    basic = grant.headers.get("Authorization", "")
    expected_basic = (
        "Basic " + base64.b64encode(f"{ACCOUNT.client_id}:{ACCOUNT.client_secret}".encode()).decode()
    )
    if form in ("body", "both"):
        assert grant.form["client_id"] == ACCOUNT.client_id
        assert grant.form["client_secret"] == ACCOUNT.client_secret
    else:
        assert "client_id" not in grant.form and "client_secret" not in grant.form
    assert (basic == expected_basic) == (form in ("basic", "both"))
    assert grant.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert _cached(redis, key)["access_token"]
    # The resource call carries the bearer token.
    (call,) = session.api()
    assert call.headers["Authorization"] == "Bearer " + _cached(redis, key)["access_token"]


def test_token_is_shared_through_redis_by_every_client_of_a_connection(emulator, redis, key):
    url, _ = emulator
    first, first_session = make_client(url, redis, key=key)
    second, second_session = make_client(url, redis, key=key)
    other, other_session = make_client(url, redis, key=key + "-other")

    first.account_info()
    second.account_info()
    second.groups(1)
    other.account_info()

    assert len(first_session.tokens()) == 1
    assert second_session.tokens() == []  # the second client found the token in Redis
    assert [e.status for e in second_session.api()] == [200, 200]
    assert len(other_session.tokens()) == 1  # another connection key, its own token


def test_cached_token_of_another_account_is_not_reused(emulator, redis, key):
    url, handle = emulator
    handle.state.add_account("m9999", "pw9", "client-9", "secret-9")
    first, _ = make_client(url, redis, key=key)
    first.account_info()

    # The operator changed the connection's credentials to another account: same connection key.
    changed, session = make_client(
        url, redis, key=key, username="m9999", password="pw9", client_id="client-9", client_secret="secret-9"
    )
    assert changed.account_info().username == "m9999"
    assert len(session.tokens()) == 1


def test_token_renewed_before_it_expires(emulator, redis, key):
    url, handle = emulator
    handle.state.options.token_lifetime = 900
    clock = FakeClock()
    client, session = make_client(url, redis, key=key, clock=clock)
    client.account_info()
    first = _cached(redis, key)

    # Well inside the lifetime: the token is used as it is.
    clock.advance(600)
    handle.state.advance_clock(600)
    client.account_info()
    assert len(session.tokens()) == 1

    # Under three minutes left: renewed before the call, so the call never meets a 401.
    clock.advance(150)
    handle.state.advance_clock(150)
    client.account_info()
    tokens = session.tokens()
    assert len(tokens) == 2 and tokens[1].form["grant_type"] == "refresh_token"
    assert tokens[1].form["refresh_token"] == first["refresh_token"]
    assert 401 not in session.statuses()
    assert _cached(redis, key)["access_token"] != first["access_token"]


def test_refresh_token_rotation_is_stored_for_every_client(emulator, redis, key):
    url, handle = emulator
    clock = FakeClock()
    client, _ = make_client(url, redis, key=key, clock=clock)
    client.account_info()
    before = _cached(redis, key)

    clock.advance(3500)  # inside the renewal margin of a one-hour token
    client.account_info()
    after = _cached(redis, key)
    assert after["refresh_token"] != before["refresh_token"]
    assert before["refresh_token"] not in handle.state.refresh_tokens  # spent by the rotation

    # A new client after the access token died: it refreshes with the stored, rotated refresh token.
    handle.state.expire_tokens()
    later, session = make_client(url, redis, key=key, clock=clock)
    assert later.account_info().username == ACCOUNT.username
    (grant,) = session.tokens()
    assert (
        grant.form["grant_type"] == "refresh_token" and grant.form["refresh_token"] == after["refresh_token"]
    )
    assert grant.status == 200
    assert session.statuses() == [401, 200, 200]


def test_401_mid_session_renews_once_and_retries(emulator, redis, key):
    url, handle = emulator
    client, session = make_client(url, redis, key=key)
    client.account_info()
    handle.state.expire_tokens()  # revoked or expired early, before our own expiry time

    groups = client.groups(1)

    assert groups == []
    assert session.statuses() == [200, 200, 401, 200, 200]  # grant, call, 401, refresh, retry
    assert session.tokens()[1].form["grant_type"] == "refresh_token"


def test_a_second_401_after_renewal_is_an_auth_error_not_a_loop(emulator, redis, key):
    url, handle = emulator
    handle.state.options.token_lifetime = 0  # every token is dead on arrival
    client, session = make_client(url, redis, key=key)

    with pytest.raises(MailupAuthError) as caught:
        client.account_info()

    assert len(session.api()) == 2 and len(session.tokens()) == 2
    assert caught.value.status == 401 and caught.value.code == "401"
    assert "expired" in caught.value.description
    assert "mailup" not in caught.value.detail.lower()


def test_refused_refresh_falls_back_to_the_password_grant(emulator, redis, key):
    url, handle = emulator
    client, session = make_client(url, redis, key=key)
    client.account_info()
    handle.state.refresh_tokens.clear()  # the refresh token was revoked
    handle.state.expire_tokens()

    assert client.account_info().username == ACCOUNT.username

    grants = [(e.form["grant_type"], e.status) for e in session.tokens()]
    assert grants == [("password", 200), ("refresh_token", 400), ("password", 200)]
    assert [e.status for e in session.api()] == [200, 401, 200]


def test_wrong_credentials_are_an_auth_error_with_a_neutral_detail(emulator, redis, key):
    url, _ = emulator
    client, session = make_client(url, redis, key=key, password="wrong")

    with pytest.raises(MailupAuthError) as caught:
        client.account_info()

    err = caught.value
    assert err.status == 400 and err.code == "invalid_grant" and err.description
    assert err.detail == "the delivery service refused the connection's credentials"
    assert "mailup" not in str(err).lower()
    assert session.api() == []  # no resource call without a token
    assert redis.get(f"portal:mailup:token:{key}") is None


def test_test_credentials_makes_a_fresh_password_grant(emulator, redis, key):
    url, _ = emulator
    client, session = make_client(url, redis, key=key)
    client.account_info()

    info = client.test_credentials()

    assert info.username == ACCOUNT.username
    assert [e.form["grant_type"] for e in session.tokens()] == ["password", "password"]


def test_an_unreadable_cache_entry_is_replaced(emulator, redis, key):
    url, _ = emulator
    redis.set(f"portal:mailup:token:{key}", "not json")
    client, session = make_client(url, redis, key=key)

    client.account_info()

    assert len(session.tokens()) == 1
    config = MailupConfig.for_base(
        url,
        username=ACCOUNT.username,
        password="x",
        client_id=ACCOUNT.client_id,
        client_secret="y",
        connection_key=key,
    )
    owner = f"{config.token_url}|{config.username.lower()}|{config.client_id}"
    assert TokenCache(redis, key, owner).load() is not None


def test_concurrent_clients_renew_once(emulator, redis, key):
    url, handle = emulator
    clients = [make_client(url, redis, key=key) for _ in range(4)]
    barrier = threading.Barrier(len(clients))
    failures = []

    def work(client):
        try:
            barrier.wait(10)
            client.account_info()
            barrier.wait(10)
            if client is clients[0][0]:
                handle.state.expire_tokens()  # every client now holds a dead token
            barrier.wait(10)
            client.account_info()
        except Exception as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c, _ in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert failures == []
    grants = [e.form["grant_type"] for _, s in clients for e in s.tokens()]
    assert sorted(grants) == ["password", "refresh_token"]  # one first token, one renewal, for all four


def test_a_failed_early_renewal_keeps_the_token_until_it_expires(emulator, redis, key):
    url, handle = emulator
    clock = FakeClock()
    client, session = make_client(url, redis, key=key, clock=clock, max_retries=0)
    client.account_info()
    handle.state.inject_fault(503, 5, path="/authorization/oauth/token")

    clock.advance(3500)  # inside the renewal margin, not yet expired
    assert client.account_info().username == ACCOUNT.username
    assert [(e.form["grant_type"], e.status) for e in session.tokens()] == [
        ("password", 200),
        ("refresh_token", 503),
    ]

    clock.advance(200)  # now past expires_in: nothing to fall back on
    with pytest.raises(MailupUnavailable):
        client.account_info()
