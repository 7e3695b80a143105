"""Client accounts from the agency: list and search, create (with the first admin), edit, suspend, users."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Client, User
from portal.tenancy import bind_tenant

from .support import PASSWORD, client_for, client_row, run_jobs

NEW = {
    "name": "Pizzeria Da Mario",
    "email_quota_month": "5000",
    "sms_credits": "200",
    "timezone": "Europe/Rome",
    "default_region": "IT",
}


def test_list_search_and_users_count(app, world):
    c = client_for(app, world, "AG1.owner")
    html = c.get("/agency/clients").get_data(as_text=True)
    assert "Client A1" in html and "Client A2" in html and "Client B1" not in html
    found = c.get("/agency/clients?q=a2").get_data(as_text=True)
    assert "Client A2" in found and "Client A1" not in found
    none = c.get("/agency/clients?q=zzz%25").get_data(as_text=True)
    assert "No client matches" in none


def test_list_pages(app, world):
    c = client_for(app, world, "AG1.staff")
    with app.app_context(), bind_tenant(world.agency_ids["AG1"]):
        for i in range(30):
            db.session.add(Client(name=f"Bulk {i:02d}", slug=f"bulk-{i}"))
        db.session.commit()
    first = c.get("/agency/clients").get_data(as_text=True)
    assert "Page 1 of 2" in first
    second = c.get("/agency/clients?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in second and "Bulk 29" in second


def test_create_client_with_first_admin_invited(app, world, outbox):
    c = client_for(app, world, "AG1.staff")
    resp = c.post("/agency/clients/new", {**NEW, "admin_email": "Mario@Pizzeria.test", "admin_name": "Mario"})
    assert resp.status_code == 302
    with app.app_context(), bind_tenant(world.agency_ids["AG1"]):
        client = db.session.scalar(select(Client).where(Client.name == "Pizzeria Da Mario"))
        assert (client.email_quota_month, client.sms_credits, client.timezone, client.default_region) == (
            5000,
            200,
            "Europe/Rome",
            "IT",
        )
        admin = db.session.scalar(select(User).where(User.email == "mario@pizzeria.test"))
        assert admin.role == "client_admin" and admin.client_id == client.id and admin.password_hash is None
    run_jobs(app)
    [mail] = outbox.to("mario@pizzeria.test")
    assert "https://ag1.portal.test/invite/" in mail.get_body(("plain",)).get_content()
    detail = c.get(resp.headers["Location"]).get_data(as_text=True)
    assert "mario@pizzeria.test" in detail and "invited" in detail


def test_create_client_refuses_bad_values_and_creates_nothing(app, world):
    c = client_for(app, world, "AG1.owner")
    for bad in (
        {"timezone": "Mars/Olympus"},
        {"default_region": "XX"},
        {"email_quota_month": "-1"},
        {"name": ""},
    ):
        resp = c.post("/agency/clients/new", {**NEW, **bad})
        assert resp.status_code == 200, bad
    # A taken address for the first admin rolls the whole creation back.
    resp = c.post("/agency/clients/new", {**NEW, "admin_email": world.users["A1.admin"]})
    assert "exists already" in resp.get_data(as_text=True)
    with app.app_context(), bind_tenant(world.agency_ids["AG1"]):
        assert db.session.scalar(select(Client).where(Client.name == "Pizzeria Da Mario")) is None


def test_edit_client(app, world):
    c = client_for(app, world, "AG1.owner")
    a1 = world.client_ids["A1"]
    resp = c.post(
        f"/agency/clients/{a1}",
        {
            **NEW,
            "name": "Client A1 renamed",
            "email_quota_month": "0",
            "timezone": "America/New_York",
            "default_region": "US",
        },
    )
    assert resp.status_code == 302
    with app.app_context():
        row = client_row(world.agency_ids["AG1"], a1)
        assert (row.name, row.email_quota_month, row.timezone, row.default_region) == (
            "Client A1 renamed",
            0,
            "America/New_York",
            "US",
        )


def test_suspend_signs_users_out_and_reactivate(app, world):
    owner = client_for(app, world, "AG1.staff")
    a1_admin = client_for(app, world, "A1.admin")
    a1 = world.client_ids["A1"]
    assert a1_admin.get("/app/").status_code == 200
    resp = owner.post(f"/agency/clients/{a1}/suspend", csrf_path=f"/agency/clients/{a1}")
    assert resp.status_code == 302
    with app.app_context():
        assert client_row(world.agency_ids["AG1"], a1).status == "suspended"
    # The client's live session ends on its next request, and signing in again fails.
    after = a1_admin.get("/app/")
    assert after.status_code == 302 and "/login" in after.headers["Location"]
    a1_admin.post("/login", {"email": world.users["A1.admin"], "password": PASSWORD})
    again = a1_admin.get("/app/")
    assert again.status_code == 302 and "/login" in again.headers["Location"]
    page = owner.get(f"/agency/clients/{a1}").get_data(as_text=True)
    assert "Reactivate" in page
    assert (
        owner.post(f"/agency/clients/{a1}/reactivate", csrf_path=f"/agency/clients/{a1}").status_code == 302
    )
    with app.app_context():
        assert client_row(world.agency_ids["AG1"], a1).status == "active"
        with bind_tenant(world.agency_ids["AG1"]):
            actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.client_id == a1)))
    assert {"client.suspended", "client.reactivated"} <= actions
    assert client_for(app, world, "A1.admin").get("/app/").status_code == 200


def test_invite_client_user_from_detail(app, world, outbox):
    c = client_for(app, world, "AG1.owner")
    a2 = world.client_ids["A2"]
    resp = c.post(
        f"/agency/clients/{a2}/users",
        {"invite-email": "new@a2.test", "invite-name": "New", "invite-role": "client_editor"},
        csrf_path=f"/agency/clients/{a2}",
    )
    assert resp.status_code == 302
    bad = c.post(
        f"/agency/clients/{a2}/users",
        {"invite-email": "x@a2.test", "invite-role": "agency_owner"},
        csrf_path=f"/agency/clients/{a2}",
    )
    assert bad.status_code == 400
    with app.app_context(), bind_tenant(world.agency_ids["AG1"]):
        user = db.session.scalar(select(User).where(User.email == "new@a2.test"))
        assert user.role == "client_editor" and user.client_id == a2
        assert db.session.scalar(select(User).where(User.email == "x@a2.test")) is None
    run_jobs(app)
    assert outbox.to("new@a2.test")
    resend = c.post(f"/agency/clients/{a2}/users/{user.id}/resend", csrf_path=f"/agency/clients/{a2}")
    assert resend.status_code == 302
    run_jobs(app)
    assert len(outbox.to("new@a2.test")) == 2


def test_other_agency_gets_404_on_client_ids(app, world):
    c = client_for(app, world, "AG2.owner")
    a1 = world.client_ids["A1"]
    assert c.get(f"/agency/clients/{a1}").status_code == 404
    for action in ("suspend", "reactivate", "act", "users"):
        resp = c.post(
            f"/agency/clients/{a1}/{action}", {**NEW, "invite-email": "e@x.test"}, csrf_path="/agency/"
        )
        assert resp.status_code == 404, action
    with app.app_context():
        row = client_row(world.agency_ids["AG1"], a1)
        assert row.status == "active" and row.name == "Client A1"


def test_dashboard_figures_and_empty_states(app, world):
    c = client_for(app, world, "AG1.owner")
    html = c.get("/agency/").get_data(as_text=True)
    assert "Client A1" in html and "Client B1" not in html
    assert "2,000" in html  # two active clients with 1,000 emails a month each
    ag2 = client_for(app, world, "AG2.owner")
    with app.app_context(), bind_tenant(world.agency_ids["AG2"]):
        db.session.delete(db.session.scalar(select(Client)))
        db.session.commit()
    empty = ag2.get("/agency/").get_data(as_text=True)
    assert "No clients yet" in empty
