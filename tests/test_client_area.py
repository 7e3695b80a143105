"""Client area: dashboard per role, role gates, agency staff acting inside a client."""

import pytest
from flask import g

from .support import HostClient, client_for


def act_as(app, world, staff_key: str, client_key: str) -> HostClient:
    """Agency staff signed in, with the session switched into a client (as the agency's "act as" does)."""
    c = client_for(app, world, staff_key)
    with c.http.session_transaction(base_url=f"http://{c.host}") as sess:
        sess["acting_client_id"] = world.client_ids[client_key]
    return c


@pytest.mark.parametrize("role", ["admin", "editor", "viewer"])
def test_dashboard_for_each_client_role(app, world, role):
    c = client_for(app, world, f"A1.{role}")
    page = c.get("/app/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Welcome to Client A1" in html
    assert 'data-testid="stat-users"' in html and ">3<" in html  # admin, editor, viewer
    assert "Emails used this month, of 1,000" in html
    assert 'data-testid="stat-sms"' in html
    assert 'href="/app/users"' in html and 'href="/app/activity"' in html
    assert ('href="/app/settings"' in html) == (role == "admin")
    assert ("Invite your team" in html) == (role == "admin")
    assert "Client A2" not in html and "mailup" not in html.lower()


def test_viewer_cannot_invite_and_editor_cannot_change_settings(app, world):
    viewer = client_for(app, world, "A1.viewer")
    assert viewer.get("/app/users/invite").status_code == 403
    resp = viewer.post(
        "/app/users/invite",
        {"email": "new@a1.test", "role": "client_admin"},
        csrf_path="/app/users",
    )
    assert resp.status_code == 403
    editor = client_for(app, world, "A1.editor")
    assert editor.get("/app/settings").status_code == 403
    resp = editor.post(
        "/app/settings",
        {"name": "Hijacked", "timezone": "UTC", "default_region": "FR"},
        csrf_path="/app/",
    )
    assert resp.status_code == 403
    assert "Hijacked" not in editor.get("/app/").get_data(as_text=True)


def test_agency_users_without_acting_have_no_client_area(app, world):
    owner = client_for(app, world, "AG1.owner")
    assert owner.get("/app/").status_code == 404


def test_client_users_cannot_enter_other_agency_hosts(app, world):
    c = client_for(app, world, "A1.admin")
    other = HostClient(app, world.hosts["AG2"])
    other.http = c.http  # same browser, other agency's host: the cookie is not valid there
    assert other.get("/app/").status_code == 302


def test_agency_staff_acting_as_client_sees_banner_and_can_manage(app, world):
    c = act_as(app, world, "AG1.staff", "A1")
    html = c.get("/app/").get_data(as_text=True)
    assert 'data-testid="acting-banner"' in html
    assert "Client A1" in html and "Invite your team" in html
    assert c.get("/app/settings").status_code == 200
    resp = c.post("/app/users/invite", {"email": "fresh@a1.test", "name": "Fresh", "role": "client_editor"})
    assert resp.status_code == 302
    users = c.get("/app/users").get_data(as_text=True)
    assert "fresh@a1.test" in users and "admin@a2.test" not in users
    # Acting as A1 never reaches A2's users.
    assert c.get(f"/app/users/{world.user_ids['A2.admin']}").status_code == 404


def test_client_role_context(app, world):
    c = client_for(app, world, "A1.viewer")
    with app.test_request_context():
        g.acting_as_client = True
        from portal.client import client_role

        assert client_role() == "client_admin"
    assert c.get("/app/users").status_code == 200
