"""Agency staff management (owners only): invitations on the canonical domain, roles, deactivation."""

from __future__ import annotations

import re

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, User
from portal.tenancy import bind_tenant

from .support import PASSWORD, HostClient, client_for, run_jobs


def _user(app, world, email):
    with app.app_context(), bind_tenant(world.agency_ids["AG1"]):
        return db.session.scalar(select(User).where(User.email == email))


def test_invite_uses_canonical_domain_despite_spoofed_host_and_can_be_accepted(app, world, outbox):
    owner = client_for(app, world, "AG1.owner")
    token = owner.csrf("/agency/staff")
    resp = owner.http.post(
        f"http://{owner.host}/agency/staff/invite",
        data={"csrf_token": token, "email": "Giulia@AG1.test", "name": "Giulia", "role": "agency_staff"},
        headers={"X-Forwarded-Host": "evil.test"},
    )
    assert resp.status_code == 302
    run_jobs(app)
    [mail] = outbox.to("giulia@ag1.test")
    body = mail.get_body(("plain",)).get_content()
    assert "evil.test" not in mail.as_string()
    link = re.search(r"https://ag1\.portal\.test/invite/[A-Za-z0-9_\-]+", body).group(0)
    assert "invited" in owner.get("/agency/staff").get_data(as_text=True)
    # Accepting the invitation signs the new colleague in to the agency area.
    guest = HostClient(app, world.hosts["AG1"])
    path = link.removeprefix("https://ag1.portal.test")
    accepted = guest.post(path, {"name": "Giulia R.", "password": PASSWORD, "confirm": PASSWORD})
    assert accepted.status_code == 302 and accepted.headers["Location"].endswith("/agency/")
    assert guest.get("/agency/").status_code == 200
    assert guest.get("/agency/staff").status_code == 403  # staff, not owner
    assert _user(app, world, "giulia@ag1.test").password_hash is not None


def test_resend_invitation(app, world, outbox):
    owner = client_for(app, world, "AG1.owner")
    owner.post(
        "/agency/staff/invite", {"email": "luca@ag1.test", "role": "agency_owner"}, csrf_path="/agency/staff"
    )
    uid = _user(app, world, "luca@ag1.test").id
    assert owner.post(f"/agency/staff/{uid}/resend", csrf_path="/agency/staff").status_code == 302
    run_jobs(app)
    assert len(outbox.to("luca@ag1.test")) == 2


def test_invite_refuses_unknown_role_and_duplicates(app, world):
    owner = client_for(app, world, "AG1.owner")
    bad = owner.post(
        "/agency/staff/invite", {"email": "x@ag1.test", "role": "client_admin"}, csrf_path="/agency/staff"
    )
    assert bad.status_code == 400 and _user(app, world, "x@ag1.test") is None
    dup = owner.post(
        "/agency/staff/invite",
        {"email": world.users["AG1.staff"], "role": "agency_staff"},
        csrf_path="/agency/staff",
    )
    assert dup.status_code == 400 and "exists already" in dup.get_data(as_text=True)


def test_change_role_and_deactivate_are_audited(app, world):
    owner = client_for(app, world, "AG1.owner")
    staff_id = world.user_ids["AG1.staff"]
    resp = owner.post(
        f"/agency/staff/{staff_id}/role", {f"role-{staff_id}-role": "agency_owner"}, csrf_path="/agency/staff"
    )
    assert resp.status_code == 302
    assert _user(app, world, world.users["AG1.staff"]).role == "agency_owner"
    staff = client_for(app, world, "AG1.staff")
    assert staff.get("/agency/staff").status_code == 200
    assert owner.post(f"/agency/staff/{staff_id}/deactivate", csrf_path="/agency/staff").status_code == 302
    assert not _user(app, world, world.users["AG1.staff"]).active
    gone = staff.get("/agency/")
    assert gone.status_code == 302 and "/login" in gone.headers["Location"]
    assert owner.post(f"/agency/staff/{staff_id}/reactivate", csrf_path="/agency/staff").status_code == 302
    assert _user(app, world, world.users["AG1.staff"]).active
    with app.app_context(), bind_tenant(world.agency_ids["AG1"]):
        actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"user.role_changed", "user.deactivated", "user.activated"} <= actions


def test_last_owner_cannot_step_down(app, world):
    owner = client_for(app, world, "AG1.owner")
    uid = world.user_ids["AG1.owner"]
    resp = owner.post(
        f"/agency/staff/{uid}/role", {f"role-{uid}-role": "agency_staff"}, csrf_path="/agency/staff"
    )
    assert resp.status_code == 302
    assert "at least one owner" in owner.get("/agency/staff").get_data(as_text=True)
    assert _user(app, world, world.users["AG1.owner"]).role == "agency_owner"


def test_staff_gets_403_on_staff_management(app, world):
    staff = client_for(app, world, "AG1.staff")
    token = staff.csrf("/agency/")
    owner_id = world.user_ids["AG1.owner"]
    assert staff.get("/agency/staff").status_code == 403
    for path, data in (
        ("/agency/staff/invite", {"email": "e@ag1.test", "role": "agency_owner"}),
        (f"/agency/staff/{owner_id}/role", {f"role-{owner_id}-role": "agency_staff"}),
        (f"/agency/staff/{owner_id}/deactivate", {}),
        (f"/agency/staff/{owner_id}/resend", {}),
    ):
        resp = staff.http.post(f"http://{staff.host}{path}", data={**data, "csrf_token": token})
        assert resp.status_code == 403, path
    assert _user(app, world, world.users["AG1.owner"]).active


def test_client_users_are_not_staff_and_other_agency_gets_404(app, world):
    owner = client_for(app, world, "AG1.owner")
    a1_admin = world.user_ids["A1.admin"]
    assert owner.post(f"/agency/staff/{a1_admin}/deactivate", csrf_path="/agency/staff").status_code == 404
    ag2 = client_for(app, world, "AG2.owner")
    staff_id = world.user_ids["AG1.staff"]
    assert ag2.post(f"/agency/staff/{staff_id}/deactivate", csrf_path="/agency/staff").status_code == 404
    assert _user(app, world, world.users["AG1.staff"]).active
