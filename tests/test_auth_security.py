"""Authentication security (checklist C18–C21, C23, D24): password storage, throttling, enumeration,
reset tokens, session lifecycle, open redirects and CSRF on every state-changing route."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

import pytest
import time_machine
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import ActionToken, User
from portal.passwords import MAX_LENGTH, WeakPassword, check_policy, hash_password, verify_password
from portal.services import users as user_service
from portal.tenancy import all_tenants, bind_tenant

from .support import ADMIN_HOST, PASSWORD, HostClient, client_for, csrf_from, run_jobs
from .test_isolation_matrix import (
    area_rules,
    build_path,
    diff,
    make_targets,
    methods_of,
)
from .test_isolation_matrix import (
    snapshot as _snapshot,
)

ARGON2_RE = re.compile(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$")


def _user(app, user_id: int) -> User:
    with all_tenants():
        return db.session.scalar(select(User).where(User.id == user_id))


def _login_post(hc: HostClient, email: str, password: str, **kw):
    return hc.post("/login", {"email": email, "password": password}, **kw)


def _reset_link(app, outbox, email: str) -> str:
    run_jobs(app)
    mails = outbox.to(email)
    assert mails, f"no email for {email}"
    m = re.search(r"https://[^/\s]+(/reset/[A-Za-z0-9_\-]+)", mails[-1].get_body(("plain",)).get_content())
    assert m
    return m.group(1)


def _set_password_via_reset(app, world, outbox, key: str, new_password: str):
    c = HostClient(app, world.host_of(key))
    assert c.post("/forgot", {"email": world.users[key]}).status_code == 302
    path = _reset_link(app, outbox, world.users[key])
    return c, path, c.post(path, {"password": new_password, "confirm": new_password})


# --- C18 password storage -------------------------------------------------------------------------


def test_stored_hash_is_argon2id_at_owasp_parameters(app, world, outbox):
    _, _, resp = _set_password_via_reset(app, world, outbox, "A1.viewer", "a brand new passphrase")
    assert resp.status_code == 302
    with app.app_context():
        stored = _user(app, world.user_ids["A1.viewer"]).password_hash
    for value in (stored, hash_password("another one")):
        m = ARGON2_RE.match(value)
        assert m, value
        memory, time_cost, parallelism = map(int, m.groups())
        assert memory >= 19456 and time_cost >= 2 and parallelism >= 1
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.parametrize(
    "password",
    [
        "x" * 64,
        "Ab1!" * 32,  # 128 characters
        "pàsswörd-ñandú-日本語-🔐-ключ",
        "  leading and trailing spaces  ",
    ],
    ids=["64-chars", "128-chars", "unicode", "spaces"],
)
def test_long_and_unicode_passwords_work_without_truncation(app, world, outbox, password):
    _, _, resp = _set_password_via_reset(app, world, outbox, "A1.editor", password)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    fresh = HostClient(app, world.host_of("A1.editor"))
    assert _login_post(fresh, world.users["A1.editor"], password[:-1]).status_code == 200  # wrong: page again
    assert _login_post(fresh, world.users["A1.editor"], password).status_code == 302


def test_too_long_password_is_refused_not_truncated():
    with pytest.raises(WeakPassword):
        check_policy("y" * (MAX_LENGTH + 1))
    long_hash = hash_password("z" * 200)
    assert not verify_password(long_hash, "z" * 199)


@pytest.mark.parametrize("weak", ["password", "123456789", "Password1", "qwerty123", "short"])
def test_common_and_short_passwords_are_rejected(app, world, outbox, weak):
    with app.app_context():
        before = _user(app, world.user_ids["A1.editor"]).password_hash
    c, path, resp = _set_password_via_reset(app, world, outbox, "A1.editor", weak)
    assert resp.status_code == 200  # the form again, with an error
    with app.app_context():
        assert _user(app, world.user_ids["A1.editor"]).password_hash == before
    # The token was not spent by the refused attempt.
    assert c.get(path).status_code == 200


# --- C19 brute force and enumeration ---------------------------------------------------------------


def test_login_throttled_per_account_despite_rotating_forwarded_for(app, world):
    """Six wrong passwords for one account from one client that claims another X-Forwarded-For each time:
    the sixth is refused by the per-account limit (5 a minute). The per-address limit (10 a minute) is not
    what trips it: the same client signs in to another account right after."""
    assert _settings_limit(app, "login_rate_limit") > 8  # room left for the per-address limit below
    c = HostClient(app, world.hosts["AG1"])
    statuses = []
    for i in range(6):
        resp = _login_post(
            c, world.users["A1.admin"], f"wrong-{i}", headers={"X-Forwarded-For": f"203.0.113.{i}"}
        )
        statuses.append(resp.status_code)
    assert statuses == [200] * 5 + [429], statuses
    # The right password does not get through the throttle either.
    resp = _login_post(c, world.users["A1.admin"], PASSWORD, headers={"X-Forwarded-For": "203.0.113.99"})
    assert resp.status_code == 429
    # Same client address (X-Forwarded-For is not trusted), another account: still welcome.
    other = HostClient(app, world.hosts["AG1"])
    assert _login_post(other, world.users["A1.editor"], PASSWORD).status_code == 302


def _settings_limit(app, name: str) -> int:
    """The count of a "N/period" rate-limit setting."""
    return int(getattr(app.config["PORTAL_SETTINGS"], name).split("/")[0])


def test_login_throttled_per_account_across_client_addresses(app, world):
    """Even from many real addresses (a botnet), one account gets only a few guesses a minute."""
    statuses = []
    for i in range(8):
        c = HostClient(app, world.hosts["AG1"])
        resp = c.post(
            "/login",
            {"email": world.users["A1.admin"], "password": f"wrong-{i}"},
            environ_overrides={"REMOTE_ADDR": f"198.51.100.{i}"},
        )
        statuses.append(resp.status_code)
    assert statuses[-1] == 429, statuses
    # Another account from a fresh address is not locked out by the first one's throttle.
    other = HostClient(app, world.hosts["AG1"])
    resp = other.post(
        "/login",
        {"email": world.users["A1.editor"], "password": PASSWORD},
        environ_overrides={"REMOTE_ADDR": "198.51.100.200"},
    )
    assert resp.status_code == 302


def test_throttled_user_can_still_recover_by_reset(app, world, outbox):
    c = HostClient(app, world.hosts["AG1"])
    for i in range(11):
        _login_post(c, world.users["A1.admin"], f"wrong-{i}")
    assert _login_post(c, world.users["A1.admin"], PASSWORD).status_code == 429
    assert c.post("/forgot", {"email": world.users["A1.admin"]}).status_code == 302
    run_jobs(app)
    assert outbox.to(world.users["A1.admin"])


def _normalised_page(resp) -> str:
    text = resp.get_data(as_text=True)
    text = re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "CSRF", text)
    text = re.sub(r'nonce="[^"]+"', "NONCE", text)
    return re.sub(r'value="[^"]*@[^"]*"', "EMAIL", text)


def test_unknown_and_known_email_get_the_same_answer(app, world):
    with app.app_context(), all_tenants():
        db.session.execute(update(User).where(User.id == world.user_ids["A1.viewer"]).values(active=False))
        db.session.commit()
    answers = []
    for email, ip in (
        (world.users["A1.admin"], "192.0.2.1"),  # known, wrong password
        ("nobody@a1.test", "192.0.2.2"),  # unknown
        (world.users["B1.admin"], "192.0.2.3"),  # exists, but in another agency
        (world.users["A1.viewer"], "192.0.2.4"),  # deactivated, right password
    ):
        c = HostClient(app, world.hosts["AG1"])
        password = PASSWORD if email == world.users["A1.viewer"] else "not the password"
        resp = c.post("/login", {"email": email, "password": password}, environ_overrides={"REMOTE_ADDR": ip})
        answers.append((resp.status_code, _normalised_page(resp)))
    assert answers[0][0] == 200 and "Wrong email or password." in answers[0][1]
    assert all(a == answers[0] for a in answers), "login answers differ between known and unknown accounts"


def test_forgot_answers_the_same_for_unknown_email(app, world, outbox):
    known = HostClient(app, world.hosts["AG1"]).post("/forgot", {"email": world.users["A1.admin"]})
    unknown = HostClient(app, world.hosts["AG1"]).post("/forgot", {"email": "nobody@a1.test"})
    assert known.status_code == unknown.status_code == 302
    assert known.location == unknown.location


# --- C20 password reset ---------------------------------------------------------------------------


def _forgot(email: str, ip: str, app, world):
    return HostClient(app, world.hosts["AG1"]).post(
        "/forgot", {"email": email}, environ_overrides={"REMOTE_ADDR": ip}
    )


def test_reset_requests_are_throttled_per_account_with_the_same_answer(app, world, outbox):
    """The sixth reset request for one address within the hour is refused — from rotating client addresses,
    and the same way whether the account exists or not (no enumeration by the throttle). An hour later the
    account may ask again; another account is never held up by the first one's limit."""
    assert _settings_limit(app, "reset_rate_limit") == 5
    known, unknown = world.users["A1.admin"], "nobody@a1.test"
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False) as clock:
        answers = {}
        for email in (known, unknown):
            resps = [_forgot(email, f"192.0.2.{i}", app, world) for i in range(6)]
            assert [r.status_code for r in resps] == [302] * 5 + [429], email
            answers[email] = (resps[0].location, _normalised_page(resps[5]))
        assert answers[known] == answers[unknown]
        assert _forgot(world.users["A1.editor"], "192.0.2.1", app, world).status_code == 302
        run_jobs(app)
        assert len(outbox.to(known)) == 5 and len(outbox.to(world.users["A1.editor"])) == 1
        clock.shift(timedelta(minutes=61))
        assert _forgot(known, "192.0.2.50", app, world).status_code == 302
        run_jobs(app)
        assert len(outbox.to(known)) == 6


def test_reset_token_is_single_use(app, world, outbox):
    c, path, resp = _set_password_via_reset(app, world, outbox, "A1.admin", "first new passphrase")
    assert resp.status_code == 302
    assert c.get(path).status_code == 404
    again = HostClient(app, world.hosts["AG1"])
    page = again.get("/login")
    resp = again.http.post(
        f"http://{again.host}{path}",
        data={
            "password": "second new passphrase",
            "confirm": "second new passphrase",
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )
    assert resp.status_code == 404
    assert (
        _login_post(
            HostClient(app, world.hosts["AG1"]), world.users["A1.admin"], "first new passphrase"
        ).status_code
        == 302
    )


def test_reset_token_expires(app, world, outbox):
    c = HostClient(app, world.hosts["AG1"])
    c.post("/forgot", {"email": world.users["A1.admin"]})
    path = _reset_link(app, outbox, world.users["A1.admin"])
    assert c.get(path).status_code == 200
    with app.app_context(), all_tenants():
        db.session.execute(update(ActionToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
    assert c.get(path).status_code == 404
    resp = c.http.post(
        f"http://{c.host}{path}",
        data={
            "password": "a fine passphrase",
            "confirm": "a fine passphrase",
            "csrf_token": c.csrf("/login"),
        },
    )
    assert resp.status_code == 404


def test_reset_token_of_one_agency_is_404_on_another(app, world, outbox):
    c = HostClient(app, world.hosts["AG1"])
    c.post("/forgot", {"email": world.users["A1.admin"]})
    path = _reset_link(app, outbox, world.users["A1.admin"])
    assert HostClient(app, world.hosts["AG2"]).get(path).status_code == 404
    assert HostClient(app, ADMIN_HOST).get(path).status_code == 404


def test_reset_token_is_long_and_random(app, world, outbox):
    HostClient(app, world.hosts["AG1"]).post("/forgot", {"email": world.users["A1.admin"]})
    token = _reset_link(app, outbox, world.users["A1.admin"]).rsplit("/", 1)[1]
    assert len(token) >= 32  # >= 192 bits of token_urlsafe output
    with app.app_context(), all_tenants():
        stored = db.session.scalars(select(ActionToken.token_hash)).all()
    assert token not in stored  # only a hash is kept


def test_completed_reset_ends_other_sessions(app, world, outbox):
    live = client_for(app, world, "A1.admin")
    assert live.get("/app/").status_code == 200
    _, _, resp = _set_password_via_reset(app, world, outbox, "A1.admin", "a fresh passphrase")
    assert resp.status_code == 302
    after = live.get("/app/")
    assert after.status_code == 302 and urlsplit(after.location).path == "/login"


# --- C21 session lifecycle ------------------------------------------------------------------------


def _cookie(app, hc: HostClient) -> str | None:
    c = hc.http.get_cookie(app.config["SESSION_COOKIE_NAME"], domain=hc.host)
    return c.value if c else None


def test_session_content_changes_on_login(app, world):
    c = HostClient(app, world.hosts["AG1"])
    c.get("/login")
    before = _cookie(app, c)
    _login_post(c, world.users["A1.admin"], PASSWORD)
    after = _cookie(app, c)
    assert before and after and before != after


def test_logout_then_replayed_cookie_is_anonymous(app, world):
    c = client_for(app, world, "A1.admin")
    assert c.get("/app/").status_code == 200
    old = _cookie(app, c)
    assert c.post("/logout", csrf_path="/app/").status_code == 302
    replay = HostClient(app, world.hosts["AG1"])
    replay.http.set_cookie(app.config["SESSION_COOKIE_NAME"], old, domain=replay.host)
    resp = replay.get("/app/")
    assert resp.status_code == 302 and urlsplit(resp.location).path == "/login"


def test_deactivated_user_session_fails_on_next_request(app, world):
    c = client_for(app, world, "A1.editor")
    assert c.get("/app/").status_code == 200
    with app.app_context(), bind_tenant(world.agency_ids["AG1"]):
        target = db.session.scalar(select(User).where(User.id == world.user_ids["A1.editor"]))
        actor = db.session.scalar(select(User).where(User.id == world.user_ids["A1.admin"]))
        user_service.set_active(actor=actor, user=target, active=False)
        db.session.commit()
    resp = c.get("/app/")
    assert resp.status_code == 302 and urlsplit(resp.location).path == "/login"


def test_user_deactivated_directly_in_the_database_is_out(app, world):
    """Even without the token rotation, an inactive user is never loaded."""
    c = client_for(app, world, "A1.editor")
    with app.app_context(), all_tenants():
        db.session.execute(update(User).where(User.id == world.user_ids["A1.editor"]).values(active=False))
        db.session.commit()
    resp = c.get("/app/")
    assert resp.status_code == 302 and urlsplit(resp.location).path == "/login"


def test_password_change_ends_other_sessions(app, world):
    other = client_for(app, world, "A1.admin")
    me = client_for(app, world, "A1.admin")
    resp = me.post(
        "/account",
        {"pw-current": PASSWORD, "pw-password": "a changed passphrase", "pw-confirm": "a changed passphrase"},
    )
    assert resp.status_code == 302
    assert me.get("/app/").status_code == 200  # this session was re-issued
    assert other.get("/app/").status_code == 302


# --- C23 open redirects ---------------------------------------------------------------------------

OPEN_REDIRECTS = [
    "https://evil.test",
    "//evil.test",
    "////evil.test",
    "///evil.test/x",
    "/\\evil.test",
    "/%5Cevil.test",
    "\\/\\/evil.test",
    "https:evil.test",
    "http:///evil.test",
    "//ag1.portal.test@evil.test",
    "//evil.test%09",
    "//\tevil.test",
    "/\t/evil.test",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "http://3627734734",
    "https://ag2.portal.test/",
    "/%2F/evil.test",
    "/%09/evil.test",
]
LOGIN_USERS = ("A1.admin", "A1.editor", "A1.viewer", "A2.admin", "A2.editor", "A2.viewer")


@pytest.mark.parametrize("payload", OPEN_REDIRECTS)
def test_login_next_never_leaves_the_host(app, world, payload):
    i = OPEN_REDIRECTS.index(payload)
    key = LOGIN_USERS[i % len(LOGIN_USERS)]
    c = HostClient(app, world.hosts["AG1"])
    page = c.get(f"/login?next={quote(payload, safe='')}")
    assert page.status_code == 200
    resp = c.http.post(
        f"http://{c.host}/login",
        data={
            "email": world.users[key],
            "password": PASSWORD,
            "next": payload,
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
        environ_overrides={"REMOTE_ADDR": f"10.0.{i}.1"},
    )
    assert resp.status_code == 302
    assert resp.location == "/app/", f"{payload!r} → {resp.location!r}"


def test_login_next_keeps_a_local_path(app, world):
    c = HostClient(app, world.hosts["AG1"])
    page = c.get("/login?next=/app/users")
    resp = c.http.post(
        f"http://{c.host}/login",
        data={
            "email": world.users["A1.admin"],
            "password": PASSWORD,
            "next": "/app/users",
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )
    assert resp.location == "/app/users"


@pytest.mark.parametrize("payload", OPEN_REDIRECTS[:8])
def test_language_switch_next_never_leaves_the_host(app, world, payload):
    c = HostClient(app, world.hosts["AG1"])
    resp = c.post("/language", {"lang": "it", "next": payload}, csrf_path="/login")
    assert resp.status_code == 302
    target = urlsplit(resp.location)
    assert not target.netloc and resp.location.startswith("/") and not resp.location.startswith("//"), (
        resp.location
    )


# --- D24 CSRF -------------------------------------------------------------------------------------

AREA_CALLER = {
    "admin": "admin",
    "agency": "AG1.owner",
    "client": "A1.admin",
    "jobs": "A1.admin",
    # Client-area feature blueprints (the isolation matrix's AREAS) use the client's admin too.
    "audience": "A1.admin",
    "transfers": "A1.admin",
    "suppressions": "A1.admin",
    "reports": "A1.admin",
    "campaigns": "A1.admin",
    "batch": "A1.admin",
    "forms": "A1.admin",
    "sms": "A1.admin",
    "integrations": "A1.admin",
    "webhooks": "A1.admin",
    "smsagency": "AG1.owner",
    "smsadmin": "admin",
}


def _area_callers(app, world) -> dict[str, HostClient]:
    """One logged-in session per user, shared by the areas it calls (one login each: the login rate
    limit would refuse a sixth login of the same user within the minute)."""
    sessions = {key: client_for(app, world, key) for key in set(AREA_CALLER.values())}
    return {area: sessions[key] for area, key in AREA_CALLER.items()}


def _no_token_post(hc: HostClient, path: str, **kw):
    return hc.http.post(f"http://{hc.host}{path}", data={"name": "csrf", "email": "csrf@evil.test"}, **kw)


@pytest.mark.parametrize("path", ["/login", "/forgot", "/language"])
def test_public_posts_need_a_token(app, world, path):
    c = HostClient(app, world.hosts["AG1"])
    c.get("/login")
    before = _snapshot(app, ignore_audit=False)
    resp = c.http.post(
        f"http://{c.host}{path}", data={"email": world.users["A1.admin"], "password": PASSWORD, "lang": "it"}
    )
    assert resp.status_code == 400
    assert not diff(before, _snapshot(app, ignore_audit=False))
    assert _cookie(app, c) is None or c.get("/app/").status_code == 302  # not logged in


def test_logout_needs_a_token(app, world):
    c = client_for(app, world, "A1.admin")
    assert _no_token_post(c, "/logout").status_code == 400
    assert c.get("/app/").status_code == 200  # still signed in


def test_token_from_another_session_is_refused(app, world):
    mine = HostClient(app, world.hosts["AG1"])
    theirs = HostClient(app, world.hosts["AG1"])
    token = theirs.csrf("/login")
    mine.get("/login")
    resp = mine.http.post(
        f"http://{mine.host}/login",
        data={"email": world.users["A1.admin"], "password": PASSWORD, "csrf_token": token},
    )
    assert resp.status_code == 400


def test_every_state_changing_area_route_needs_a_token(app, world):
    """Generated from url_map: each POST rule of admin/agency/client/jobs, called by a user who may use it,
    on its own host, with real ids of its own tenant — but without a CSRF token."""
    targets = make_targets(app, world)
    callers = _area_callers(app, world)
    rules = [r for r in area_rules(app) if "POST" in methods_of(r)]
    assert rules
    problems = []
    before = _snapshot(app, ignore_audit=False)
    for rule in rules:
        values = next(iter(targets.values_for(rule))) if rule.arguments else {}
        path = build_path(rule, values)
        caller = callers[rule.endpoint.partition(".")[0]]
        for kw in ({}, {"headers": {"Origin": "https://evil.test", "Sec-Fetch-Site": "cross-site"}}):
            resp = _no_token_post(caller, path, **kw)
            if resp.status_code != 400:
                problems.append(f"POST {path} ({rule.endpoint}) without a token → {resp.status_code}")
        after = _snapshot(app, ignore_audit=False)
        if diff(before, after):
            problems.append(f"POST {path} ({rule.endpoint}) without a token changed {diff(before, after)}")
            before = after
    assert not problems, "\n".join(problems)


def test_get_never_changes_state(app, world):
    """GET/HEAD on every GET rule of the areas, as a user of that area, leaves every row alone."""
    targets = make_targets(app, world)
    callers = _area_callers(app, world)
    problems = []
    before = _snapshot(app)
    for rule in area_rules(app):
        if "GET" not in methods_of(rule):
            continue
        values = next(iter(targets.values_for(rule))) if rule.arguments else {}
        path = build_path(rule, values)
        caller = callers[rule.endpoint.partition(".")[0]]
        caller.get(path)
        caller.http.head(f"http://{caller.host}{path}")
        after = _snapshot(app)
        if diff(before, after):
            problems.append(f"GET {path} ({rule.endpoint}) changed {diff(before, after)}")
            before = after
    assert not problems, "\n".join(problems)
