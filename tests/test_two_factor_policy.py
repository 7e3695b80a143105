"""Checklist C20/C22, who must have a second factor and what cannot bypass it: operators always, agency
staff and client users when their agency says so (two settings), the enrolment gate (nothing else first),
resets by owners and operators (audited, emailed), turning it off, and the password reset."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pyotp
import pytest
from sqlalchemy import delete, select

from portal.extensions import db
from portal.models import Agency, AuditEvent, TotpCredential, User
from portal.tenancy import all_tenants

from .support import (
    ADMIN_HOST,
    PASSWORD,
    TOTP_SECRETS,
    HostClient,
    client_for,
    enrol_totp,
    fresh_totp_code,
    run_jobs,
)
from .test_isolation_matrix import area_rules, build_path, make_targets, methods_of
from .two_factor_support import (
    audit_actions,
    credential_of,
    enrol_through_pages,
    secret_on_page,
    session_token,
    sign_in_with_password,
)


def _require(app, world, agency_key: str, *, staff: bool = False, clients: bool = False) -> None:
    with app.app_context(), all_tenants():
        agency = db.session.get(Agency, world.agency_ids[agency_key])
        agency.two_factor_staff_required, agency.two_factor_clients_required = staff, clients
        db.session.commit()


def _drop_operator_factor(app, world) -> None:
    with app.app_context(), all_tenants():
        db.session.execute(delete(TotpCredential).where(TotpCredential.user_id == world.user_ids["admin"]))
        db.session.commit()


def _enrol(app, world, key: str) -> str:
    secret = pyotp.random_base32()
    with app.app_context(), all_tenants():
        enrol_totp(db.session.get(User, world.user_ids[key]), secret)
        db.session.commit()
    return secret


def _path(resp) -> str:
    return urlsplit(resp.location).path if resp.location else ""


# --- the enrolment gate ---------------------------------------------------------------------------


def test_operator_without_a_second_factor_can_do_nothing_but_enrol(app, world):
    """Generated from url_map: every back-office page, and every other page of the operator's host, leads
    to enrolment until it is done."""
    _drop_operator_factor(app, world)
    TOTP_SECRETS.pop(world.users["admin"], None)
    c = HostClient(app, ADMIN_HOST)
    resp = sign_in_with_password(c, world.users["admin"], PASSWORD)
    assert resp.status_code == 302 and _path(resp) == "/account/two-factor/setup"
    targets = make_targets(app, world)
    problems = []
    for rule in area_rules(app, areas=("admin", "jobs", "auth")):
        if "GET" not in methods_of(rule) or rule.endpoint == "auth.two_factor_setup":
            continue
        if rule.endpoint.startswith("auth.") and rule.arguments:
            continue  # reset and invitation links: no token exists here to build them with
        path = build_path(rule, next(iter(targets.values_for(rule))) if rule.arguments else {})
        resp = c.get(path)
        if not (resp.status_code == 302 and _path(resp) == "/account/two-factor/setup"):
            problems.append(f"GET {path} ({rule.endpoint}) → {resp.status_code} {resp.location}")
    for path in ("/admin/agencies/new", "/account"):
        resp = c.post(path, {"name": "x", "slug": "x"}, csrf_path="/account/two-factor/setup")
        if _path(resp) != "/account/two-factor/setup":
            problems.append(f"POST {path} → {resp.status_code} {resp.location}")
    assert not problems, "\n".join(problems)
    secret = secret_on_page(c.get("/account/two-factor/setup").get_data(as_text=True))
    resp = c.post("/account/two-factor/setup", {"code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 200 and "Your recovery codes" in resp.get_data(as_text=True)
    assert c.get("/admin/").status_code == 200
    assert "two_factor.enabled" in audit_actions(app, world.users["admin"])


def test_operators_cannot_turn_their_second_factor_off(app, world):
    c = client_for(app, world, "admin")
    token = session_token(app, world.user_ids["admin"])
    code = fresh_totp_code(app, world.users["admin"])  # a right code: only the rule can refuse
    resp = c.post(
        "/account/two-factor/disable", {"off-password": PASSWORD, "off-code": code}, csrf_path="/account"
    )
    assert resp.status_code == 302
    assert credential_of(app, world.user_ids["admin"]) is not None
    assert session_token(app, world.user_ids["admin"]) == token
    assert "must use two-factor sign-in: it cannot be turned off" in c.get("/account").get_data(as_text=True)


@pytest.mark.parametrize(
    ("staff", "clients", "gated", "free"),
    [
        (True, False, ("AG1.owner", "AG1.staff"), ("A1.admin", "A2.viewer", "AG2.owner")),
        (False, True, ("A1.admin", "A2.viewer"), ("AG1.owner", "AG1.staff", "B1.admin")),
    ],
    ids=["staff", "clients"],
)
def test_agency_requirements_apply_to_whom_they_say(app, world, staff, clients, gated, free):
    _require(app, world, "AG1", staff=staff, clients=clients)
    for key in gated:
        c = HostClient(app, world.host_of(key))
        resp = sign_in_with_password(c, world.users[key], PASSWORD)
        assert _path(resp) == "/account/two-factor/setup", key
        home = "/agency/" if key.startswith("AG") else "/app/"
        assert _path(c.get(home)) == "/account/two-factor/setup", key
    for key in free:
        c = client_for(app, world, key)
        home = "/agency/" if key.startswith("AG") else "/app/"
        assert c.get(home).status_code == 200, key


def test_switching_the_requirement_on_stops_live_sessions_at_the_next_page(app, world):
    staff = client_for(app, world, "AG1.staff")
    assert staff.get("/agency/").status_code == 200
    owner = client_for(app, world, "AG1.owner")
    resp = owner.post("/agency/security", {"staff_required": "y"})
    assert resp.status_code == 302
    assert _path(staff.get("/agency/")) == "/account/two-factor/setup"
    assert _path(owner.get("/agency/clients")) == "/account/two-factor/setup"  # the owner too
    assert "agency.two_factor_changed" in audit_actions(app, "ag1")
    secret, _ = enrol_through_pages(owner)
    assert owner.get("/agency/clients").status_code == 200
    assert secret


def test_only_the_owner_and_the_operator_set_the_requirements(app, world):
    staff = client_for(app, world, "AG1.staff")
    assert staff.get("/agency/security").status_code == 403
    assert staff.post("/agency/security", {"clients_required": "y"}, csrf_path="/agency/").status_code == 403
    admin = client_for(app, world, "admin")
    resp = admin.post(
        f"/admin/agencies/{world.agency_ids['AG1']}/two-factor",
        {"clients_required": "y"},
        csrf_path=f"/admin/agencies/{world.agency_ids['AG1']}",
    )
    assert resp.status_code == 302
    with app.app_context(), all_tenants():
        agency = db.session.get(Agency, world.agency_ids["AG1"])
        assert (agency.two_factor_staff_required, agency.two_factor_clients_required) == (False, True)
    owner_page = client_for(app, world, "AG1.owner").get("/agency/security").get_data(as_text=True)
    boxes = {name: tag for tag, name in re.findall(r'(<input[^>]*name="(\w+_required)"[^>]*>)', owner_page)}
    assert "checked" in boxes["clients_required"] and "checked" not in boxes["staff_required"]


# --- resets ---------------------------------------------------------------------------------------


def test_owner_resets_a_staff_members_second_factor(app, world, outbox):
    _enrol(app, world, "AG1.staff")
    staff = client_for(app, world, "AG1.staff")
    _require(app, world, "AG1", staff=True)
    _enrol(app, world, "AG1.owner")
    owner = client_for(app, world, "AG1.owner")
    resp = owner.post(
        f"/agency/staff/{world.user_ids['AG1.staff']}/two-factor/reset", {}, csrf_path="/agency/staff"
    )
    assert resp.status_code == 302
    assert credential_of(app, world.user_ids["AG1.staff"]) is None
    assert "two_factor.reset" in audit_actions(app, world.users["AG1.staff"])
    assert _path(staff.get("/agency/")) == "/login"  # their sessions ended
    run_jobs(app)
    [mail] = outbox.to(world.users["AG1.staff"])
    body = mail.get_body(("plain",)).get_content()
    assert "AG1 owner has reset the two-factor sign-in of your Agency AG1 account" in body
    assert "asked to set it up again" in body and "MailUp" not in body
    # Signing in again: the password, then enrolment (the agency requires it).
    again = HostClient(app, world.hosts["AG1"])
    assert (
        _path(sign_in_with_password(again, world.users["AG1.staff"], PASSWORD)) == "/account/two-factor/setup"
    )


def test_who_may_reset_whose_second_factor(app, world):
    for key in ("AG1.owner", "AG1.staff", "A1.admin", "AG2.owner"):
        _enrol(app, world, key)
    staff = client_for(app, world, "AG1.staff")
    owner_id = world.user_ids["AG1.owner"]
    assert (
        staff.post(f"/agency/staff/{owner_id}/two-factor/reset", {}, csrf_path="/agency/").status_code == 403
    )
    owner = client_for(app, world, "AG1.owner")
    a1, a1_admin = world.client_ids["A1"], world.user_ids["A1.admin"]
    resp = owner.post(f"/agency/clients/{a1}/users/{a1_admin}/two-factor/reset", {}, csrf_path="/agency/")
    assert resp.status_code == 302 and credential_of(app, a1_admin) is None
    # Their own: refused (recovery codes, or the level above).
    owner.post(f"/agency/staff/{owner_id}/two-factor/reset", {}, csrf_path="/agency/")
    assert credential_of(app, owner_id) is not None
    # Another agency's owner: 404, untouched.
    other = client_for(app, world, "AG2.owner")
    resp = other.post(
        f"/agency/staff/{world.user_ids['AG1.staff']}/two-factor/reset", {}, csrf_path="/agency/"
    )
    assert resp.status_code == 404 and credential_of(app, world.user_ids["AG1.staff"]) is not None


def test_operator_resets_an_agency_owners_second_factor(app, world, outbox):
    _enrol(app, world, "AG1.owner")
    _enrol(app, world, "AG1.staff")
    admin = client_for(app, world, "admin")
    ag1 = world.agency_ids["AG1"]
    page = admin.get(f"/admin/agencies/{ag1}").get_data(as_text=True)
    assert world.users["AG1.owner"] in page and "Reset two-factor" in page
    # Staff are the owner's to reset, not the operator's.
    resp = admin.post(
        f"/admin/agencies/{ag1}/owners/{world.user_ids['AG1.staff']}/two-factor/reset",
        {},
        csrf_path="/admin/",
    )
    assert resp.status_code == 404 and credential_of(app, world.user_ids["AG1.staff"]) is not None
    resp = admin.post(
        f"/admin/agencies/{ag1}/owners/{world.user_ids['AG1.owner']}/two-factor/reset",
        {},
        csrf_path="/admin/",
    )
    assert resp.status_code == 302 and credential_of(app, world.user_ids["AG1.owner"]) is None
    with app.app_context(), all_tenants():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "two_factor.reset"))
        assert (event.actor_email, event.target, event.agency_id) == (
            world.users["admin"],
            world.users["AG1.owner"],
            ag1,
        )
    run_jobs(app)
    [mail] = outbox.to(world.users["AG1.owner"])
    assert "The platform support team has reset" in mail.get_body(("plain",)).get_content()


# --- turning it off, and the password reset -------------------------------------------------------


def test_turning_it_off_needs_the_password_and_a_code(app, world):
    _enrol(app, world, "A1.editor")
    c = client_for(app, world, "A1.editor")
    other = client_for(app, world, "A1.editor")
    wrong_password = {"off-password": "not it", "off-code": "123456"}
    assert c.post("/account/two-factor/disable", wrong_password, csrf_path="/account").status_code == 302
    assert credential_of(app, world.user_ids["A1.editor"]) is not None
    code = fresh_totp_code(app, world.users["A1.editor"])
    resp = c.post(
        "/account/two-factor/disable", {"off-password": PASSWORD, "off-code": code}, csrf_path="/account"
    )
    assert resp.status_code == 302
    assert credential_of(app, world.user_ids["A1.editor"]) is None
    assert "two_factor.disabled" in audit_actions(app, world.users["A1.editor"])
    assert c.get("/app/").status_code == 200  # this session re-issued
    assert _path(other.get("/app/")) == "/login"  # the other one ended


def test_password_reset_does_not_bypass_the_second_factor(app, world, outbox):
    secret = _enrol(app, world, "A1.admin")
    c = HostClient(app, world.hosts["AG1"])
    assert c.post("/forgot", {"email": world.users["A1.admin"]}).status_code == 302
    run_jobs(app)
    [mail] = outbox.to(world.users["A1.admin"])
    path = re.search(
        r"https://[^/\s]+(/reset/[A-Za-z0-9_\-]+)", mail.get_body(("plain",)).get_content()
    ).group(1)
    resp = c.post(path, {"password": "a new passphrase", "confirm": "a new passphrase"})
    assert resp.status_code == 302 and _path(resp) == "/login"
    assert _path(c.get("/app/")) == "/login"  # the reset signs nobody in
    resp = sign_in_with_password(c, world.users["A1.admin"], "a new passphrase")
    assert _path(resp) == "/login/code"
    assert _path(c.get("/app/")) == "/login/code"
    assert c.post("/login/code", {"code": pyotp.TOTP(secret).now()}).status_code == 302
    assert c.get("/app/").status_code == 200
    assert credential_of(app, world.user_ids["A1.admin"]) is not None
