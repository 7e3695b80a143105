""" "Act as client": the banner, the audit trail both ways, and tenant checks."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent
from portal.tenancy import bind_tenant

from .support import client_for


def _events(app, world, action):
    with app.app_context(), bind_tenant(world.agency_ids["AG1"]):
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_act_as_client_shows_banner_and_is_audited(app, world):
    staff = client_for(app, world, "AG1.staff")
    a1 = world.client_ids["A1"]
    resp = staff.post(f"/agency/clients/{a1}/act", csrf_path=f"/agency/clients/{a1}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/app/")
    page = staff.get("/app/").get_data(as_text=True)
    assert 'data-testid="acting-banner"' in page and "Client A1" in page
    [event] = _events(app, world, "client.act_as")
    assert (event.agency_id, event.client_id, event.actor_id) == (
        world.agency_ids["AG1"],
        a1,
        world.user_ids["AG1.staff"],
    )
    # Agency pages lead back into the client while acting.
    assert staff.get("/agency/clients").headers["Location"].endswith("/app/")
    back = staff.post("/agency/stop-acting", csrf_path="/app/")
    assert back.status_code == 302 and f"/agency/clients/{a1}" in back.headers["Location"]
    [stopped] = _events(app, world, "client.act_as_stopped")
    assert stopped.client_id == a1
    assert 'data-testid="acting-banner"' not in staff.get("/agency/").get_data(as_text=True)
    assert staff.get("/app/").status_code == 404  # no client bound any more


def test_other_agency_cannot_act_as_our_client(app, world):
    ag2 = client_for(app, world, "AG2.owner")
    a1 = world.client_ids["A1"]
    assert ag2.post(f"/agency/clients/{a1}/act", csrf_path="/agency/").status_code == 404
    assert ag2.get("/app/").status_code == 404
    assert _events(app, world, "client.act_as") == []


def test_client_users_cannot_reach_the_agency_area(app, world):
    a1 = client_for(app, world, "A1.admin")
    assert a1.get("/agency/").status_code == 404
    assert a1.post(f"/agency/clients/{world.client_ids['A2']}/act", csrf_path="/app/").status_code == 404
