"""Signing in through a real browser on the back-office and on an agency host."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ..support import ADMIN_HOST
from .pages import Portal

pytestmark = pytest.mark.browser


def test_agency_owner_signs_in_and_out(page, live_server, world, screenshot):
    portal = Portal(page, live_server, world.hosts["AG1"])
    portal.goto("/login")
    expect(page.get_by_role("heading", name="Sign in to Agency AG1")).to_be_visible()
    portal.login(world.users["AG1.owner"], expect_path="/agency/")
    expect(portal.brand_name).to_have_text("Agency AG1")
    screenshot("signed-in")
    portal.logout()
    expect(page.get_by_label("Email")).to_be_visible()


def test_wrong_password_is_refused(page, live_server, world):
    portal = Portal(page, live_server, world.hosts["AG1"])
    portal.goto("/login")
    page.get_by_label("Email").fill(world.users["AG1.owner"])
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert").filter(has_text="Wrong email or password.")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_platform_admin_signs_in_on_the_back_office(page, live_server, world):
    portal = Portal(page, live_server, ADMIN_HOST)
    portal.login(world.users["admin"], expect_path="/admin/")
