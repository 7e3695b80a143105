"""Journey 3: a client's users see their agency's brand — name, colour and logo — never the platform's."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.models import Agency
from portal.tenancy import all_tenants

from .pages import Portal, png_bytes, rgb

pytestmark = pytest.mark.browser

COLOUR = "#0b7a5c"


def _brand_agency(app, agency_id: int, *, name: str, colour: str, logo: bytes | None) -> None:
    """Data setup straight in the DB; the assertions below go through the browser."""
    with app.app_context(), all_tenants():
        agency = db.session.get(Agency, agency_id)
        agency.name, agency.primary_color = name, colour
        if logo is not None:
            agency.logo_data, agency.logo_mime = logo, "image/png"
        agency.branding_version += 1
        db.session.commit()


def test_client_admin_sees_the_agency_brand(app, page, live_server, world, screenshot):
    _brand_agency(
        app, world.agency_ids["AG1"], name="Blue Heron Media", colour=COLOUR, logo=png_bytes(64, 32)
    )
    portal = Portal(page, live_server, world.hosts["AG1"])
    portal.goto("/login")
    expect(page.get_by_role("heading", name="Sign in to Blue Heron Media")).to_be_visible()

    portal.login(world.users["A1.admin"], expect_path="/app/")
    expect(portal.brand_name).to_have_text("Blue Heron Media")
    assert portal.topbar_background() == rgb(COLOUR)
    expect(portal.brand_logo).to_be_visible()
    assert portal.image_loaded(portal.brand_logo)
    assert "Blue Heron Media" in page.title()
    assert "mailup" not in page.content().lower()
    screenshot("client-dashboard")


def test_without_a_logo_the_top_bar_shows_only_the_name(app, page, live_server, world):
    _brand_agency(app, world.agency_ids["AG2"], name="Kestrel Digital", colour="#552299", logo=None)
    portal = Portal(page, live_server, world.hosts["AG2"])
    portal.login(world.users["B1.admin"], expect_path="/app/")
    expect(portal.brand_name).to_have_text("Kestrel Digital")
    expect(portal.brand_logo).to_have_count(0)
    assert portal.topbar_background() == rgb("#552299")
