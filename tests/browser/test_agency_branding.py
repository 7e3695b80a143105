"""Journey 2: the agency owner rebrands the portal. The preview follows the colour before anything is
saved; after saving, the top bar wears the new colour and the uploaded logo on every page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .pages import Portal, computed, png_bytes, rgb, set_colour

pytestmark = pytest.mark.browser

NEW = "#aa3311"


def test_owner_changes_colour_and_logo_with_live_preview(page, live_server, world, screenshot):
    portal = Portal(page, live_server, world.hosts["AG1"])
    portal.login(world.users["AG1.owner"], expect_path="/agency/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Branding").click()
    portal.path_is("/agency/branding$")

    preview_top = "[data-testid=brand-preview] .preview-top"
    before_topbar = portal.topbar_background()
    assert computed(page, preview_top, "background-color") == before_topbar != rgb(NEW)

    set_colour(page.get_by_label("Primary colour"), NEW)
    # Live preview: the preview changes at once, the saved brand (the real top bar) does not yet.
    page.wait_for_function(
        "([sel, want]) => getComputedStyle(document.querySelector(sel)).backgroundColor === want",
        arg=[preview_top, rgb(NEW)],
    )
    assert portal.topbar_background() == before_topbar

    page.get_by_label("Logo").set_input_files(
        files=[{"name": "logo.png", "mimeType": "image/png", "buffer": png_bytes(120, 40, (255, 200, 0))}]
    )
    preview_logo = page.get_by_test_id("brand-preview").locator("img.preview-logo")
    expect(preview_logo).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 120", arg=preview_logo.element_handle()
    )
    screenshot("preview")

    page.get_by_role("button", name="Save branding").click()
    expect(portal.flashes).to_contain_text(["Branding saved."])
    portal.wait_topbar_background(rgb(NEW))

    # The next page: the new colour and the logo in the top bar.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Clients").click()
    portal.path_is("/agency/clients")
    portal.wait_topbar_background(rgb(NEW))
    expect(portal.brand_logo).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=portal.brand_logo.element_handle()
    )
    assert portal.brand_logo.evaluate("img => img.naturalWidth") == 120
    screenshot("after-save")


def test_a_non_image_logo_is_refused_and_nothing_changes(page, live_server, world, problems):
    portal = Portal(page, live_server, world.hosts["AG1"])
    portal.login(world.users["AG1.owner"])
    portal.goto("/agency/branding")
    before = portal.topbar_background()
    set_colour(page.get_by_label("Primary colour"), NEW)
    page.get_by_label("Logo").set_input_files(
        files=[{"name": "logo.png", "mimeType": "image/png", "buffer": b"<svg onload=alert(1)></svg>"}]
    )
    problems.expect("status of 400")  # the form answers 400 with its errors
    page.get_by_role("button", name="Save branding").click()
    expect(page.locator(".field.has-error")).to_contain_text("SVG")
    expect(portal.brand_logo).to_have_count(0)
    assert portal.topbar_background() == before
