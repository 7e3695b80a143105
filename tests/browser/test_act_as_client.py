"""Journey 4: agency staff work inside a client account ("act as client") and come back."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .pages import Portal

pytestmark = pytest.mark.browser


def test_owner_acts_as_client_and_returns(page, live_server, world, problems, screenshot):
    portal = Portal(page, live_server, world.hosts["AG1"])
    portal.login(world.users["AG1.owner"], expect_path="/agency/")
    banner = page.get_by_test_id("acting-banner")
    expect(banner).to_have_count(0)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Clients").click()
    page.get_by_role("link", name="Client A1", exact=True).click()
    portal.path_is(f"/agency/clients/{world.client_ids['A1']}$")
    page.get_by_test_id("act-as-client").click()

    portal.path_is("/app/")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Client A1")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Client A1")
    screenshot("acting")

    banner.get_by_role("button", name="Back to the agency").click()
    expect(page).to_have_url(re.compile(r"/agency/"))
    expect(banner).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Client A1")  # back on its detail page

    # Outside the client again: its area is closed to an agency user.
    problems.expect("status of 404")
    assert page.goto(portal.url("/app/")).status == 404
