"""MailUp emulator: the token endpoint in every form the reference lists (§2, §20.1), 401 bodies (§13),
the per-account 429 (§14), case-insensitive paths (§1), injected faults. Real HTTP on a free port."""

from __future__ import annotations

import http.client
import urllib.parse

from .mailup_emulator_support import (  # noqa: F401  (fixtures)
    ACCOUNT,
    CONSOLE,
    OTHER,
    TOKEN,
    Api,
    api_fixture,
    basic,
    emulator_fixture,
    request,
)

PASSWORD_GRANT = {
    "grant_type": "password",
    "username": ACCOUNT.username,
    "password": ACCOUNT.password,
    "client_id": ACCOUNT.client_id,
    "client_secret": ACCOUNT.client_secret,
}


def _works(base: str, access_token: str) -> bool:
    reply = request(
        base + CONSOLE + "/Authentication/Info", headers={"Authorization": "Bearer " + access_token}
    )
    return reply.status == 200


def test_password_grant_in_the_form_body_answers_the_three_documented_keys(emulator):
    base, _ = emulator
    reply = request(base + TOKEN, "POST", PASSWORD_GRANT, headers={"Accept": "application/json"})
    assert reply.status == 200
    body = reply.json()
    assert set(body) == {"access_token", "expires_in", "refresh_token"}  # no token_type, as documented
    assert body["expires_in"] == 3600
    assert _works(base, body["access_token"])


def test_password_grant_as_query_string_with_basic_header_and_as_get(emulator):
    base, _ = emulator
    user_only = {k: v for k, v in PASSWORD_GRANT.items() if not k.startswith("client_")}
    # [PYM]: the fields in the query string of a POST, the client in a Basic header.
    reply = request(
        base + TOKEN + "?" + urllib.parse.urlencode(user_only),
        "POST",
        b"",
        headers={"Authorization": basic(ACCOUNT.client_id, ACCOUNT.client_secret)},
    )
    assert reply.status == 200, reply.text
    assert _works(base, reply.json()["access_token"])
    # The official samples: the body and the Basic header both.
    reply = request(
        base + TOKEN,
        "POST",
        PASSWORD_GRANT,
        headers={"Authorization": basic("client-abc", "client-secret-xyz")},
    )
    assert reply.status == 200
    # A GET with the query string.
    reply = request(base + TOKEN + "?" + urllib.parse.urlencode(PASSWORD_GRANT))
    assert reply.status == 200
    assert _works(base, reply.json()["access_token"])


def test_bad_credentials_are_400_with_oauth_error_body(emulator):
    base, _ = emulator
    for wrong in (
        {"password": "nope"},
        {"username": "m0000"},
        {"client_secret": "nope"},
        {"grant_type": "magic"},
    ):
        reply = request(base + TOKEN, "POST", {**PASSWORD_GRANT, **wrong})
        assert reply.status == 400
        assert set(reply.json()) == {"error", "error_description"}
    assert (
        request(base + TOKEN, "POST", {**PASSWORD_GRANT, "password": "nope"}).json()["error"]
        == "invalid_grant"
    )
    assert (
        request(base + TOKEN, "POST", {**PASSWORD_GRANT, "client_secret": "x"}).json()["error"]
        == "invalid_client"
    )
    # One account's client cannot log another account's user in.
    other_client = {**PASSWORD_GRANT, "client_id": OTHER.client_id, "client_secret": OTHER.client_secret}
    assert request(base + TOKEN, "POST", other_client).status == 400


def test_refresh_rotates_the_refresh_token(emulator):
    base, _ = emulator
    first = request(base + TOKEN, "POST", PASSWORD_GRANT).json()
    refresh = {
        "grant_type": "refresh_token",
        "client_id": ACCOUNT.client_id,
        "client_secret": ACCOUNT.client_secret,
        "refresh_token": first["refresh_token"],
    }
    second = request(base + TOKEN, "POST", refresh)
    assert second.status == 200
    renewed = second.json()
    assert set(renewed) == {"access_token", "expires_in", "refresh_token"}
    assert renewed["refresh_token"] != first["refresh_token"]
    assert renewed["access_token"] != first["access_token"]
    assert _works(base, renewed["access_token"])
    # The old refresh token is spent; the new one works once more.
    again = request(base + TOKEN, "POST", refresh)
    assert again.status == 400 and again.json()["error"] == "invalid_grant"
    assert request(base + TOKEN, "POST", {**refresh, "refresh_token": renewed["refresh_token"]}).status == 200


def test_401_body_for_missing_invalid_and_expired_tokens_then_refresh_and_retry(emulator):
    base, handle = emulator
    url = base + CONSOLE + "/List/1/Groups"
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "MailUp abc"}):
        reply = request(url, headers=headers)
        assert reply.status == 401
        body = reply.json()
        assert set(body) == {"ErrorCode", "ErrorDescription", "ErrorName", "ErrorStack"}
        assert (
            body["ErrorCode"] == "401" and body["ErrorName"] == "Unauthorized" and body["ErrorStack"] is None
        )
    api = Api(base)
    assert api.get("/List/1/Groups").status == 200
    assert handle.state.expire_tokens(ACCOUNT.username) >= 1
    expired = api.get("/List/1/Groups")
    assert expired.status == 401
    assert expired.json()["ErrorDescription"] == "Authorization error: Access token is expired"
    # What every client does: refresh once and retry.
    tokens = request(
        base + TOKEN,
        "POST",
        {
            "grant_type": "refresh_token",
            "client_id": ACCOUNT.client_id,
            "client_secret": ACCOUNT.client_secret,
            "refresh_token": api.tokens["refresh_token"],
        },
    ).json()
    api.tokens = tokens
    assert api.get("/List/1/Groups").status == 200


def test_access_token_expires_with_the_emulator_clock(emulator):
    base, handle = emulator
    api = Api(base)
    handle.state.advance_clock(api.tokens["expires_in"] - 5)
    assert api.get("/Authentication/Info").status == 200
    handle.state.advance_clock(10)
    assert api.get("/Authentication/Info").status == 401


def test_authorization_code_grant_get_without_client_credentials(emulator):
    base, _ = emulator
    # Read the redirect itself (urllib would follow it to the client's callback).
    conn = http.client.HTTPConnection(base.removeprefix("http://"))
    conn.request(
        "GET",
        "/Authorization/OAuth/LogOn?client_id=client-abc&response_type=code&redirect_uri=http%3A%2F%2Fapp%2Fcb",
    )
    resp = conn.getresponse()
    assert resp.status == 302
    location = resp.getheader("Location")
    conn.close()
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["code"][0]
    reply = request(
        base + TOKEN + "?" + urllib.parse.urlencode({"code": code, "grant_type": "authorization_code"})
    )
    assert reply.status == 200
    assert _works(base, reply.json()["access_token"])
    assert request(base + TOKEN, "POST", {"code": code, "grant_type": "authorization_code"}).status == 400


def test_paths_and_parameter_names_are_case_insensitive(api):
    expected = api.get("/List/1/Groups").json()
    for path in (
        "/api/v1.1/rest/consoleservice.svc/console/list/1/groups",
        "/API/V1.1/REST/CONSOLESERVICE.SVC/CONSOLE/LIST/1/GROUPS",
    ):
        reply = api.call("GET", path, base="")
        assert reply.status == 200 and reply.json() == expected
    assert api.get("/recipient/dynamicfields", PageSize=5).json()["PageSize"] == 5
    assert api.get("/Recipient/DynamicFields", pagesize=5, PAGENUMBER=1).json()["PageNumber"] == 1
    lower_token = request(api.base + TOKEN.lower(), "POST", PASSWORD_GRANT)
    assert lower_token.status == 200


def test_rate_limit_answers_429_per_account(emulator):
    base, handle = emulator
    api, other = Api(base), Api(base, OTHER)
    # Off by default: a burst goes through.
    assert all(api.get("/Authentication/Info").status == 200 for _ in range(15))
    handle.state.set_rate_limit(1)
    replies = [api.get("/Authentication/Info") for _ in range(10)]
    limited = [r for r in replies if r.status == 429]
    assert limited, "ten calls at once against 1 call/s"
    body = limited[0].json()
    assert body["ErrorCode"] == "429" and body["ErrorName"] is None and body["ErrorStack"] is None
    assert body["ErrorDescription"].startswith(
        "Authorization error (too_many_requests): Too many requests. Max:1"
    )
    # The other account has its own budget.
    assert other.get("/Authentication/Info").status == 200


def test_injected_fault_then_recovery(api, emulator):
    _, handle = emulator
    handle.state.inject_fault(500, 2, username=ACCOUNT.username, path="/groups")
    assert api.get("/Authentication/Info").status == 200  # another path
    first, second, third = (api.get("/List/1/Groups") for _ in range(3))
    assert (first.status, second.status, third.status) == (500, 500, 200)
    assert first.json()["ErrorCode"] == "500" and first.json()["ErrorName"] == "InternalServerError"


def test_account_info_and_details(api):
    info = api.ok("GET", "/Authentication/Info")
    assert set(info) == {
        "AccountName",
        "Company",
        "ExpiryDate",
        "IsTrial",
        "UID",
        "Url",
        "Username",
        "Version",
    }
    assert info["Username"] == ACCOUNT.username and info["AccountName"] is None and info["IsTrial"] is False
    details = api.ok("GET", "/Authentication/Details")
    assert {"AutoRenewal", "CreditsByList", "Email", "Lang", "Plan", "TotalCredits"} <= set(details)
    assert details["CreditsByList"][0] == {"Credit": details["TotalCredits"], "ListId": 1}
