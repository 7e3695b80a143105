"""The API base of a provider-side connection in the back-office form (`options["api_base"]`): a valid
http(s) URL sends every REST call of the account there (the emulator in development), empty means the
provider's own hosts, anything else is refused naming the field; editing keeps settings the form does
not show."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Connection
from portal.providers.connection import provider_client
from portal.tenancy import all_tenants

from .support import client_for

FORM = {
    "name": "Premium delivery",
    "client_id": "abc-123",
    "client_secret": "s3cret",
    "username": "m12345",
    "password": "pw",
    "console_host": "services.mailup.com",
    "no_logo": "y",
    "account_model": "shared",
}


def _connection(app) -> Connection | None:
    with app.app_context(), all_tenants():
        found = db.session.scalar(select(Connection).where(Connection.kind == "mailup"))
        if found is not None:
            db.session.expunge(found)
        return found


def test_the_api_base_points_every_call_at_one_host(app, world):
    admin = client_for(app, world, "admin")
    ag = world.agency_ids["AG2"]
    resp = admin.post(
        f"/admin/agencies/{ag}/connections/new/mailup", {**FORM, "api_base": " http://127.0.0.1:8030/ "}
    )
    assert resp.status_code == 302
    conn = _connection(app)
    assert conn.options["api_base"] == "http://127.0.0.1:8030"
    with app.app_context():
        config = provider_client(conn).config
    assert config.token_url == "http://127.0.0.1:8030/Authorization/OAuth/Token"
    assert config.console_url.startswith("http://127.0.0.1:8030/API/")
    page = admin.get(f"/admin/agencies/{ag}/connections/{conn.id}/edit").get_data(as_text=True)
    assert 'value="http://127.0.0.1:8030"' in page

    # A setting the form does not show survives an edit through the form.
    with app.app_context(), all_tenants():
        row = db.session.get(Connection, conn.id)
        row.options = {**row.options, "rate_per_second": 2}
        db.session.commit()
    edit = f"/admin/agencies/{ag}/connections/{conn.id}/edit"
    resp = admin.post(edit, {**FORM, "client_secret": "", "password": "", "api_base": ""}, csrf_path=edit)
    assert resp.status_code == 302
    conn = _connection(app)
    assert conn.options["api_base"] == "" and conn.options["rate_per_second"] == 2
    with app.app_context():
        config = provider_client(conn).config
    assert config.token_url == "https://services.mailup.com/Authorization/OAuth/Token"


@pytest.mark.parametrize(
    "value",
    [
        "ftp://127.0.0.1:8030",
        "127.0.0.1:8030",
        "http://",
        "http://host:99999",
        "https://h.example/?a=1",
        "http://h#x",
    ],
)
def test_a_bad_api_base_is_refused_naming_the_field(app, world, value):
    admin = client_for(app, world, "admin")
    ag = world.agency_ids["AG2"]
    page = admin.post(f"/admin/agencies/{ag}/connections/new/mailup", {**FORM, "api_base": value})
    assert page.status_code == 200
    assert "API base: " in page.get_data(as_text=True) and "is not a valid URL" in page.get_data(as_text=True)
    assert _connection(app) is None
