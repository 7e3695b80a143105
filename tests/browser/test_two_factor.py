"""Two-factor sign-in in a real browser: an agency that requires it for its staff; the owner signs in,
is led to enrolment, scans (here: reads) the key, confirms with a code, keeps the recovery codes, and
signs in again with a code from the app."""

from __future__ import annotations

import time

import pyotp
import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.models import Agency
from portal.tenancy import all_tenants

from ..support import PASSWORD
from .pages import Portal

pytestmark = pytest.mark.browser


def test_owner_enrols_then_signs_in_with_a_code(app, page, live_server, world, screenshot):
    with app.app_context(), all_tenants():
        db.session.get(Agency, world.agency_ids["AG1"]).two_factor_staff_required = True
        db.session.commit()
    portal = Portal(page, live_server, world.hosts["AG1"])
    portal.goto("/login")
    page.get_by_label("Email").fill(world.users["AG1.owner"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # Straight to enrolment, and nowhere else until it is done.
    portal.path_is("/account/two-factor/setup")
    expect(page.get_by_text("Your account must use two-factor sign-in.")).to_be_visible()
    expect(page.get_by_test_id("totp-qr").locator("svg")).to_be_visible()
    portal.goto("/agency/clients")
    portal.path_is("/account/two-factor/setup")
    screenshot("setup")

    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    codes = page.get_by_test_id("recovery-codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    screenshot("recovery-codes")
    page.get_by_role("link", name="I have saved them, continue").click()
    portal.path_is("/agency/")
    portal.logout()

    # Signing in again: the password is not enough.
    page.get_by_label("Email").fill(world.users["AG1.owner"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    portal.path_is("/login/code")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(time.time() - 600))  # long expired
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert").filter(has_text="That code is not right.")).to_be_visible()
    # The code that confirmed the enrolment is spent: the app's next code (one step ahead) is accepted.
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Continue").click()
    portal.path_is("/agency/")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    screenshot("signed-in")
