"""Checklist C22, the second factor itself: TOTP codes accepted once within ±1 step, recovery codes single
use and stored hashed, the secret encrypted at rest, codes throttled like passwords, and the sign-in steps
(password → code → session; nothing is signed in before the code)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pyotp
import time_machine

from portal.crypto import decrypt_json
from portal.extensions import db
from portal.models import User
from portal.tenancy import all_tenants
from portal.twofactor import totp

from .support import PASSWORD, TOTP_SECRETS, HostClient, client_for, enrol_totp
from .two_factor_support import (
    audit_actions,
    code_at,
    credential_of,
    enrol_through_pages,
    now,
    recovery_codes_on_page,
    recovery_rows,
    secret_on_page,
    sign_in_with_password,
)


def _enrolled(app, world, key: str) -> tuple[str, list[str]]:
    secret, codes = enrol_through_pages(client_for(app, world, key))
    TOTP_SECRETS[world.users[key]] = secret  # later `client_for` sign-ins of this user pass the code step
    return secret, codes


def _code_step(app, world, key: str, **kw) -> HostClient:
    c = HostClient(app, world.host_of(key))
    resp = sign_in_with_password(c, world.users[key], PASSWORD, **kw)
    assert resp.status_code == 302 and urlsplit(resp.location).path == "/login/code", resp.location
    return c


def _submit_code(c: HostClient, code: str, csrf_token: str | None = None, **kw):
    data = {"code": code} if csrf_token is None else {"code": code, "csrf_token": csrf_token}
    return c.post("/login/code", data, **kw)


def _refused(resp) -> bool:
    """The code step again, with the error (200, like a wrong password on the login page)."""
    return resp.status_code == 200 and "That code is not right." in resp.get_data(as_text=True)


def _enrolled_directly(app, world, key: str) -> str:
    """A confirmed credential without going through the setup form (which counts against the code limit)."""
    secret = pyotp.random_base32()
    with app.app_context(), all_tenants():
        enrol_totp(db.session.get(User, world.user_ids[key]), secret)
        db.session.commit()
    return secret


# --- TOTP -----------------------------------------------------------------------------------------


def test_matching_step_allows_one_step_of_skew_and_no_more():
    secret = pyotp.random_base32()
    at = 1_900_000_000.0
    step = totp.current_step(at)
    for offset in (-1, 0, 1):
        assert (
            totp.matching_step(secret, totp.code_at(secret, step + offset), after=None, at=at)
            == step + offset
        )
    for offset in (-3, -2, 2, 3):
        assert totp.matching_step(secret, totp.code_at(secret, step + offset), after=None, at=at) is None
    # Not a later step than the one already used: refused, even though the code itself is right.
    assert totp.matching_step(secret, totp.code_at(secret, step), after=step, at=at) is None
    assert totp.matching_step(secret, "12 34 56", after=None, at=at) in (None, step - 1, step, step + 1)
    assert totp.matching_step(secret, "abcdef", after=None, at=at) is None


def test_a_code_signs_in_once_and_is_refused_again_in_its_window(app, world):
    secret, _ = _enrolled(app, world, "A1.admin")
    with time_machine.travel(now() + timedelta(minutes=5), tick=False):
        code = pyotp.TOTP(secret).now()
        first = _code_step(app, world, "A1.admin")
        resp = _submit_code(first, code)
        assert resp.status_code == 302 and urlsplit(resp.location).path == "/app/"
        assert first.get("/app/").status_code == 200
        # The same code again, seconds later, by someone who also knows the password: refused.
        second = _code_step(app, world, "A1.admin")
        assert _refused(_submit_code(second, code))
        assert second.get("/app/").status_code == 302
        # The previous step's code is older than the one used: refused too.
        assert _refused(_submit_code(second, code_at(secret, now() - timedelta(seconds=30))))
        # The next step's code (a phone whose clock runs a little ahead) is still fine.
        assert _submit_code(second, code_at(secret, now() + timedelta(seconds=30))).status_code == 302
    assert "two_factor.failed" in audit_actions(app, world.users["A1.admin"])


def test_codes_two_steps_away_are_refused(app, world):
    secret, _ = _enrolled(app, world, "A1.editor")
    with time_machine.travel(now() + timedelta(minutes=5), tick=False):
        c = _code_step(app, world, "A1.editor")
        assert _refused(_submit_code(c, code_at(secret, now() - timedelta(seconds=60))))
        assert _refused(_submit_code(c, code_at(secret, now() + timedelta(seconds=60))))
        assert _submit_code(c, pyotp.TOTP(secret).now()).status_code == 302


def test_setting_up_later_in_a_session_asks_for_the_password_again(app, world):
    """Right after signing in the password was just typed; ten minutes later, turning two-factor on needs it
    again (someone else may be at the keyboard)."""
    with time_machine.travel(now(), tick=False) as clock:
        c = client_for(app, world, "A2.viewer")
        clock.shift(timedelta(minutes=11))
        page = c.get("/account/two-factor/setup").get_data(as_text=True)
        assert 'name="password"' in page
        secret = secret_on_page(page)
        setup = "/account/two-factor/setup"
        resp = c.post(setup, {"code": pyotp.TOTP(secret).now()})
        assert "The current password is wrong." in resp.get_data(as_text=True)
        assert credential_of(app, world.user_ids["A2.viewer"]) is None
        resp = c.post(setup, {"code": pyotp.TOTP(secret).now(), "password": PASSWORD})
        assert len(recovery_codes_on_page(resp.get_data(as_text=True))) == 10
        assert credential_of(app, world.user_ids["A2.viewer"]) is not None


def test_the_secret_is_encrypted_at_rest(app, world):
    secret, _ = _enrolled(app, world, "A1.viewer")
    row = credential_of(app, world.user_ids["A1.viewer"])
    assert secret not in row.secret_encrypted and secret.lower() not in row.secret_encrypted.lower()
    with app.app_context():
        assert decrypt_json(row.secret_encrypted) == {"totp": secret}


def test_nothing_is_signed_in_between_the_password_and_the_code(app, world):
    _enrolled(app, world, "AG1.owner")
    c = _code_step(app, world, "AG1.owner")
    for path in ("/agency/", "/account", "/app/", "/forgot", "/login"):
        resp = c.get(path)
        assert resp.status_code == 302 and urlsplit(resp.location).path == "/login/code", (
            path,
            resp.location,
        )
    assert c.get("/login/code").status_code == 200
    # Giving up leaves an ordinary anonymous visitor.
    assert c.post("/login/code/cancel", {}, csrf_path="/login/code").status_code == 302
    assert urlsplit(c.get("/agency/").location).path == "/login"


def test_the_code_step_expires(app, world):
    secret, _ = _enrolled(app, world, "AG1.staff")
    c = _code_step(app, world, "AG1.staff")
    token = c.csrf("/login/code")
    with time_machine.travel(now() + timedelta(minutes=6), tick=False):
        resp = _submit_code(c, pyotp.TOTP(secret).now(), csrf_token=token)
        assert resp.status_code == 302 and urlsplit(resp.location).path == "/login"
        assert urlsplit(c.get("/agency/").location).path == "/login"


# --- recovery codes -------------------------------------------------------------------------------


def test_recovery_codes_are_stored_hashed_and_work_once(app, world, outbox):
    _, codes = _enrolled(app, world, "A2.admin")
    rows = recovery_rows(app, world.user_ids["A2.admin"])
    assert len(rows) == 10 and len(set(codes)) == 10
    for row in rows:
        assert row.code_hash.startswith("$argon2id$")
        assert not any(code.replace("-", "") in row.code_hash for code in codes)
    c = _code_step(app, world, "A2.admin")
    resp = _submit_code(c, codes[3].upper().replace("-", " "))  # typed differently: still the same code
    assert resp.status_code == 302 and c.get("/app/").status_code == 200
    assert "two_factor.recovery_code_used" in audit_actions(app, world.users["A2.admin"])
    assert sum(r.used_at is not None for r in recovery_rows(app, world.user_ids["A2.admin"])) == 1
    again = _code_step(app, world, "A2.admin")
    assert _refused(_submit_code(again, codes[3]))
    assert _submit_code(again, codes[4]).status_code == 302


def test_renewed_recovery_codes_replace_the_old_ones(app, world):
    secret, old = _enrolled(app, world, "A2.editor")
    c = client_for(app, world, "A2.editor")
    with time_machine.travel(now() + timedelta(minutes=2), tick=False):
        resp = c.post(
            "/account/two-factor/recovery-codes",
            {"renew-password": PASSWORD, "renew-code": pyotp.TOTP(secret).now()},
            csrf_path="/account",
        )
    assert resp.status_code == 200
    new = recovery_codes_on_page(resp.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    assert _refused(_submit_code(_code_step(app, world, "A2.editor"), old[0]))
    assert _submit_code(_code_step(app, world, "A2.editor"), new[0]).status_code == 302


# --- throttling -----------------------------------------------------------------------------------


def test_wrong_codes_are_throttled_per_account(app, world):
    """Five wrong codes for one account, each from another address: the sixth attempt is refused even with
    the right code, while the per-address limit alone would still let it through; another account is not
    affected."""
    secret = _enrolled_directly(app, world, "B1.admin")
    wrong = code_at(secret, now() - timedelta(minutes=10))
    c = _code_step(app, world, "B1.admin")
    statuses = [
        _refused(_submit_code(c, wrong, environ_overrides={"REMOTE_ADDR": f"198.51.100.{i}"}))
        for i in range(5)
    ]
    assert statuses == [True] * 5
    resp = _submit_code(c, pyotp.TOTP(secret).now(), environ_overrides={"REMOTE_ADDR": "198.51.100.99"})
    assert resp.status_code == 429
    assert c.get("/app/").status_code == 302  # not signed in
    other_secret = _enrolled_directly(app, world, "B1.editor")
    other = _code_step(app, world, "B1.editor")
    assert _submit_code(other, pyotp.TOTP(other_secret).now()).status_code == 302
