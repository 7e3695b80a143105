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
        # SMS credits are not part of the client form: the agency gives them from its pool (ledger).
        assert (client.email_quota_month, client.sms_credits, client.timezone, client.default_region) == (
            5000,
            0,
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


# --- delivery connections per client -------------------------------------------------------------------


def _connection(app, agency_id: int, kind: str, name: str) -> int:
    from portal.models import Connection
    from portal.tenancy import all_tenants

    with app.app_context(), all_tenants():
        row = Connection(agency_id=agency_id, kind=kind, name=name, options={"host": "relay.internal.test"})
        db.session.add(row)
        db.session.commit()
        return row.id


def _bindings(app, world, key: str) -> tuple[int | None, int | None]:
    with app.app_context():
        row = client_row(world.agency_ids["AG1"], world.client_ids[key])
        return row.email_connection_id, row.sms_connection_id


def _set_agency_default(app, agency_id: int, email: int | None) -> None:
    from portal.models import Agency
    from portal.tenancy import all_tenants

    with app.app_context(), all_tenants():
        db.session.get(Agency, agency_id).default_email_connection_id = email
        db.session.commit()


def test_agency_binds_a_client_per_channel_and_sees_it_everywhere(app, world):
    ag1, a1 = world.agency_ids["AG1"], world.client_ids["A1"]
    relay = _connection(app, ag1, "smtp", "Relay Milano")
    api = _connection(app, ag1, "mailup", "Bulk account")
    gateway = _connection(app, ag1, "sms", "SMS Italia")
    _connection(app, world.agency_ids["AG2"], "smtp", "Other agency relay")
    _set_agency_default(app, ag1, relay)
    staff = client_for(app, world, "AG1.staff")
    detail = f"/agency/clients/{a1}"
    page = staff.get(detail).get_data(as_text=True)
    card = page[page.index('data-testid="client-delivery"') :]
    assert 'Relay Milano <span class="muted">(default)</span>' in card
    email_select = card[card.index('name="delivery-email_connection"') : card.index("</select>")]
    assert "Agency default (Relay Milano)" in email_select
    assert "Bulk account" in email_select and "SMS Italia" not in email_select
    assert "Other agency relay" not in page
    sms_select = card[card.index('name="delivery-sms_connection"') :]
    sms_select = sms_select[: sms_select.index("</select>")]
    assert "SMS Italia" in sms_select and "Relay Milano" not in sms_select.split("</option>", 1)[1]

    resp = staff.post(
        f"{detail}/connections",
        {"delivery-email_connection": str(api), "delivery-sms_connection": str(gateway)},
        csrf_path=detail,
    )
    assert resp.status_code == 302
    assert _bindings(app, world, "A1") == (api, gateway)
    assert _bindings(app, world, "A2") == (None, None)
    listing = staff.get("/agency/clients").get_data(as_text=True)
    rows = listing[listing.index('data-testid="clients-table"') :].split("<tr>")
    a1_row = next(r for r in rows if "Client A1" in r)
    a2_row = next(r for r in rows if "Client A2" in r)
    assert "Bulk account</td>" in a1_row and "SMS Italia</td>" in a1_row and "(default)" not in a1_row
    assert 'Relay Milano <span class="muted">(default)</span>' in a2_row
    assert 'No SMS connection <span class="muted">(default)</span>' in a2_row

    # Back to the agency default on email; the activity log says what happened, in neutral words.
    staff.post(
        f"{detail}/connections",
        {"delivery-email_connection": "", "delivery-sms_connection": str(gateway)},
        csrf_path=detail,
    )
    assert _bindings(app, world, "A1") == (None, gateway)
    with app.app_context(), bind_tenant(ag1):
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "client.connection_changed").order_by(AuditEvent.id)
        ).all()
        rows = [(e.client_id, e.target, e.details) for e in events]
    assert rows == [
        (a1, "email: Bulk account", {"channel": "email", "kind": "email-api", "previous": "agency default"}),
        (a1, "sms: SMS Italia", {"channel": "sms", "kind": "sms", "previous": "agency default"}),
        (
            a1,
            "email: agency default",
            {"channel": "email", "kind": "agency default", "previous": "Bulk account"},
        ),
    ]
    activity = client_for(app, world, "AG1.owner").get("/agency/activity").get_data(as_text=True)
    assert "Client delivery connection changed" in activity and "email: Bulk account" in activity


def test_binding_refuses_foreign_or_unsuitable_connections(app, world):
    ag1, a1 = world.agency_ids["AG1"], world.client_ids["A1"]
    relay = _connection(app, ag1, "smtp", "Relay")
    foreign = _connection(app, world.agency_ids["AG2"], "sms", "AG2 gateway")
    owner = client_for(app, world, "AG1.owner")
    detail = f"/agency/clients/{a1}"
    for bad in (
        {"delivery-email_connection": str(foreign)},  # another agency's connection
        {"delivery-sms_connection": str(foreign)},
        {"delivery-sms_connection": str(relay)},  # a relay cannot carry SMS
        {"delivery-email_connection": "987654"},
        {"delivery-email_connection": "x"},
    ):
        data = {"delivery-email_connection": "", "delivery-sms_connection": "", **bad}
        resp = owner.post(f"{detail}/connections", data, csrf_path=detail)
        assert resp.status_code == 400, bad
        assert "Not a valid choice" in resp.get_data(as_text=True), bad
    assert _bindings(app, world, "A1") == (None, None)
    # Another agency's staff cannot reach A1 at all.
    other = client_for(app, world, "AG2.owner")
    resp = other.post(
        f"{detail}/connections",
        {"delivery-email_connection": "", "delivery-sms_connection": str(foreign)},
        csrf_path="/agency/",
    )
    assert resp.status_code == 404
    assert _bindings(app, world, "A1") == (None, None)


def test_binding_refused_while_the_client_has_a_campaign_sending(app, world):
    from portal.models import Campaign

    ag1, a1 = world.agency_ids["AG1"], world.client_ids["A1"]
    relay = _connection(app, ag1, "smtp", "Relay")
    gateway = _connection(app, ag1, "sms", "Gateway")
    with app.app_context(), bind_tenant(ag1):
        db.session.add(
            Campaign(agency_id=ag1, client_id=a1, name="Black Friday", channel="email", status="sending")
        )
        db.session.commit()
    owner = client_for(app, world, "AG1.owner")
    detail = f"/agency/clients/{a1}"
    resp = owner.post(
        f"{detail}/connections",
        {"delivery-email_connection": str(relay), "delivery-sms_connection": str(gateway)},
        csrf_path=detail,
    )
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert "cannot change while its campaign “Black Friday” is sending" in html
    assert _bindings(app, world, "A1") == (None, None)
    # SMS alone may change: nothing is sending by SMS.
    resp = owner.post(
        f"{detail}/connections",
        {"delivery-email_connection": "", "delivery-sms_connection": str(gateway)},
        csrf_path=detail,
    )
    assert resp.status_code == 302 and _bindings(app, world, "A1") == (None, gateway)
