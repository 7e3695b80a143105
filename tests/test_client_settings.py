"""Client settings: admins change name, time zone and phone region (validated, audited); quotas read-only."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent

from .support import client_for, client_row


def test_settings_page_shows_quotas_read_only(app, world):
    html = client_for(app, world, "A1.admin").get("/app/settings").get_data(as_text=True)
    assert "Set by your agency." in html and "1,000" in html
    assert 'name="email_quota_month"' not in html and 'name="sms_credits"' not in html
    assert '<option selected value="IT">' in html or 'value="IT" selected' in html


def test_admin_saves_settings_and_it_is_audited(app, world):
    admin = client_for(app, world, "A1.admin")
    resp = admin.post(
        "/app/settings",
        {"name": "Client A1 Renamed", "timezone": "America/New_York", "default_region": "US"},
    )
    assert resp.status_code == 302
    with app.app_context():
        client = client_row(world.agency_ids["AG1"], world.client_ids["A1"])
        assert (client.name, client.timezone, client.default_region) == (
            "Client A1 Renamed",
            "America/New_York",
            "US",
        )
        assert client.email_quota_month == 1000
        from portal.tenancy import bind_tenant

        with bind_tenant(world.agency_ids["AG1"]):
            event = db.session.scalar(
                select(AuditEvent).where(AuditEvent.action == "client.settings_updated")
            )
        assert event.client_id == world.client_ids["A1"]
        assert event.details["default_region"] == "IT → US"
    assert "Welcome to Client A1 Renamed" in admin.get("/app/").get_data(as_text=True)


def test_settings_reject_unknown_region_and_zone_and_quota_fields(app, world):
    admin = client_for(app, world, "A1.admin")
    for data in (
        {"name": "X", "timezone": "Mars/Olympus", "default_region": "IT"},
        {"name": "X", "timezone": "UTC", "default_region": "XX"},
        {"name": "X", "timezone": "UTC", "default_region": "EU"},
        {"name": "", "timezone": "UTC", "default_region": "IT"},
    ):
        resp = admin.post("/app/settings", {**data, "email_quota_month": "999999"})
        assert resp.status_code == 200, data
    with app.app_context():
        client = client_row(world.agency_ids["AG1"], world.client_ids["A1"])
        assert (client.name, client.timezone, client.default_region) == ("Client A1", "Europe/Rome", "IT")
        assert client.email_quota_month == 1000


def test_service_validates_region(app, world):
    import pytest

    from portal.services import DomainError
    from portal.services.client_settings import is_region, update_client_settings

    assert is_region("IT") and is_region("US") and not is_region("ZZ") and not is_region("it")
    with app.test_request_context(), app.app_context():
        client = client_row(world.agency_ids["AG1"], world.client_ids["A1"])
        with pytest.raises(DomainError):
            update_client_settings(actor=None, client=client, name="A", timezone="UTC", default_region="QQ")
        db.session.rollback()


def test_checklist_ticks_after_review(app, world):
    admin = client_for(app, world, "A1.admin")
    assert admin.get("/app/").get_data(as_text=True).count('<li class="done">') == 1  # only the team
    admin.post("/app/settings", {"name": "Client A1", "timezone": "Europe/Rome", "default_region": "IT"})
    html = admin.get("/app/").get_data(as_text=True)
    assert html.count('<li class="done">') == 2  # the team (3 users) and the reviewed settings
