"""Client users: invitations in the agency's brand, role changes audited, other tenants' users are 404."""

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, User
from portal.tenancy import bind_tenant

from .support import client_for, run_jobs


def _user(app, world, email):
    with app.app_context(), bind_tenant(world.agency_ids["AG1"]):
        return db.session.scalar(select(User).where(User.email == email))


def test_everyone_in_the_client_sees_only_its_users(app, world):
    for role in ("admin", "editor", "viewer"):
        html = client_for(app, world, f"A1.{role}").get("/app/users").get_data(as_text=True)
        assert "admin@a1.test" in html and "viewer@a1.test" in html
        assert "a2.test" not in html and "ag1.test" not in html
        assert ("Invite a user" in html) == (role == "admin")


def test_invite_sends_branded_email_with_link_on_canonical_domain(app, world, outbox):
    admin = client_for(app, world, "A1.admin")
    resp = admin.post(
        "/app/users/invite", {"email": "New.Person@Example.com", "name": "New", "role": "client_editor"}
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/app/users")
    run_jobs(app)
    [msg] = outbox.to("new.person@example.com")
    assert "Agency AG1" in msg["Subject"] and "Agency AG1" in str(msg["From"])
    body = msg.get_body(("plain",)).get_content()
    assert "https://ag1.portal.test/invite/" in body
    assert "A1 admin" in body  # the inviter
    assert "mailup" not in msg.as_string().lower()
    user = _user(app, world, "new.person@example.com")
    assert user.role == "client_editor" and user.client_id == world.client_ids["A1"]
    assert user.password_hash is None
    html = admin.get("/app/users").get_data(as_text=True)
    assert "new.person@example.com" in html and "invited" in html


def test_invite_rejects_unknown_role_and_duplicate(app, world):
    admin = client_for(app, world, "A1.admin")
    resp = admin.post("/app/users/invite", {"email": "x@a1.test", "role": "agency_owner"})
    assert resp.status_code == 200 and "Not a valid choice" in resp.get_data(as_text=True)
    resp = admin.post("/app/users/invite", {"email": "editor@a1.test", "role": "client_viewer"})
    assert resp.status_code == 200 and "exists already" in resp.get_data(as_text=True)
    assert _user(app, world, "x@a1.test") is None


def test_role_change_is_audited(app, world):
    admin = client_for(app, world, "A1.admin")
    uid = world.user_ids["A1.viewer"]
    resp = admin.post(f"/app/users/{uid}/role", {"role": "client_editor"}, csrf_path=f"/app/users/{uid}")
    assert resp.status_code == 302
    assert _user(app, world, "viewer@a1.test").role == "client_editor"
    with app.app_context(), bind_tenant(world.agency_ids["AG1"]):
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.role_changed"))
    assert event.client_id == world.client_ids["A1"] and event.actor_email == "admin@a1.test"
    assert event.details == {"old": "client_viewer", "new": "client_editor"}
    assert "Role changed" in admin.get("/app/activity").get_data(as_text=True)


def test_role_change_refuses_roles_outside_the_client(app, world):
    admin = client_for(app, world, "A1.admin")
    uid = world.user_ids["A1.viewer"]
    admin.post(f"/app/users/{uid}/role", {"role": "agency_owner"}, csrf_path=f"/app/users/{uid}")
    assert _user(app, world, "viewer@a1.test").role == "client_viewer"


def test_deactivate_reactivate_and_self_protection(app, world):
    admin = client_for(app, world, "A1.admin")
    uid = world.user_ids["A1.editor"]
    admin.post(f"/app/users/{uid}/deactivate", csrf_path=f"/app/users/{uid}")
    assert _user(app, world, "editor@a1.test").active is False
    admin.post(f"/app/users/{uid}/reactivate", csrf_path=f"/app/users/{uid}")
    assert _user(app, world, "editor@a1.test").active is True
    me = world.user_ids["A1.admin"]
    resp = admin.post(f"/app/users/{me}/deactivate", csrf_path=f"/app/users/{me}", follow_redirects=True)
    assert "You cannot deactivate yourself." in resp.get_data(as_text=True)
    assert _user(app, world, "admin@a1.test").active is True


def test_resend_invitation(app, world, outbox):
    admin = client_for(app, world, "A1.admin")
    admin.post("/app/users/invite", {"email": "late@a1.test", "role": "client_viewer"})
    uid = _user(app, world, "late@a1.test").id
    resp = admin.post(f"/app/users/{uid}/resend", csrf_path=f"/app/users/{uid}", follow_redirects=True)
    assert "A new invitation was sent to late@a1.test." in resp.get_data(as_text=True)
    run_jobs(app)
    assert len(outbox.to("late@a1.test")) == 2
    # Somebody who already has a password gets no invitation.
    other = world.user_ids["A1.viewer"]
    resp = admin.post(f"/app/users/{other}/resend", csrf_path=f"/app/users/{other}", follow_redirects=True)
    assert "already accepted" in resp.get_data(as_text=True)


@pytest.mark.parametrize("victim", ["A2.admin", "A2.viewer", "B1.admin", "AG1.owner"])
def test_other_tenants_users_are_404(app, world, victim):
    admin = client_for(app, world, "A1.admin")
    uid = world.user_ids[victim]
    csrf = admin.csrf("/app/users")
    assert admin.get(f"/app/users/{uid}").status_code == 404
    for action, data in (("role", {"role": "client_viewer"}), ("deactivate", {}), ("resend", {})):
        resp = admin.post(f"/app/users/{uid}/{action}", {**data, "csrf_token": csrf})
        assert resp.status_code == 404, action
    with app.app_context(), bind_tenant(world.agency_ids["AG1" if victim != "B1.admin" else "AG2"]):
        user = db.session.scalar(select(User).where(User.id == uid))
        assert user.active and user.role != "client_viewer" or victim == "A2.viewer"


def test_non_admins_cannot_manage_users(app, world):
    for role in ("editor", "viewer"):
        c = client_for(app, world, f"A1.{role}")
        uid = world.user_ids["A1.viewer"]
        assert c.get(f"/app/users/{uid}").status_code == 403
        resp = c.post(f"/app/users/{uid}/role", {"role": "client_admin"}, csrf_path="/app/users")
        assert resp.status_code == 403
    assert _user(app, world, "viewer@a1.test").role == "client_viewer"
