"""Journey 1: the platform operator creates an agency and adds a domain in the back-office; the new
agency's host answers at once with its own, branded sign-in page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ..support import ADMIN_HOST
from .pages import Portal

pytestmark = pytest.mark.browser


def test_operator_creates_an_agency_with_a_domain(page, live_server, world, screenshot):
    admin = Portal(page, live_server, ADMIN_HOST)
    admin.login(world.users["admin"], expect_path="/admin/")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Agencies").click()
    admin.path_is("/admin/agencies$")
    page.get_by_role("link", name="New agency").first.click()
    page.get_by_label("Name", exact=True).fill("Northwind Media")
    page.get_by_label("Short name").fill("northwind")
    page.get_by_role("button", name="Create agency").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Northwind Media")
    expect(admin.flashes).to_contain_text(["Agency Northwind Media created."])
    domains = page.get_by_test_id("domain-table")
    expect(domains).to_contain_text("northwind.portal.test")

    page.get_by_label("Host name").fill("nw-media.portal.test")
    page.get_by_role("button", name="Add domain").click()
    expect(admin.flashes).to_contain_text(["nw-media.portal.test added and verified."])
    expect(domains.get_by_role("row").filter(has_text="nw-media.portal.test")).to_contain_text("verified")
    expect(domains).to_contain_text("northwind.portal.test")
    screenshot("agency-detail")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Agencies").click()
    row = page.get_by_test_id("agency-table").get_by_role("row").filter(has_text="Northwind Media")
    expect(row).to_contain_text("northwind")
    expect(row).to_contain_text("northwind.portal.test")

    # Both hosts of the new agency answer with its sign-in page, under its own name.
    for host in ("northwind.portal.test", "nw-media.portal.test"):
        agency = Portal(page, live_server, host)
        agency.goto("/login")
        expect(page.get_by_role("heading", name="Sign in to Northwind Media")).to_be_visible()
        expect(agency.brand_name).to_have_text("Northwind Media")
    screenshot("new-agency-login")
