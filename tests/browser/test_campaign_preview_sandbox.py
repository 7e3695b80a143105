"""Issue 4: the preview sandbox. A campaign's HTML is shown only inside <iframe sandbox srcdoc> (no scripts,
opaque origin): its script cannot touch the portal page or call the portal, neither on load nor while the
author types."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ..sending_support import make_campaign
from .pages import Portal

pytestmark = pytest.mark.browser

EVIL = (
    "<html><body><h1>Sale</h1><p>Hello {{ first_name | default('there') }}</p>"
    "<script>parent.document.body.innerHTML='pwned'; fetch('/app/users')</script>"
    "<img src=\"data:image/png;base64,AAAA\" onerror=\"parent.document.title='pwned'; fetch('/app/users')\">"
    "</body></html>"
)


def test_campaign_script_cannot_act_on_the_portal(page, live_server, app, world, problems, screenshot):
    # Chromium reports each blocked script of the sandboxed frame; that is the sandbox doing its job.
    problems.expect(r"Blocked script execution in 'about:srcdoc'")
    s = make_campaign(app, world, contacts=[("anna@example.org", "Anna")], html=EVIL)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    portal = Portal(page, live_server, world.hosts["AG1"])
    portal.login(world.users["A1.admin"])
    portal.goto(f"/app/campaigns/{s.campaign_id}")

    frame_el = page.locator("iframe.email-preview")
    expect(frame_el).to_have_attribute("sandbox", "")
    preview = page.frame_locator("iframe.email-preview")
    expect(preview.get_by_text("Hello Alex")).to_be_visible()  # merge tags show sample values
    page.wait_for_timeout(300)

    def portal_intact():
        expect(page.get_by_role("heading", level=1)).to_contain_text("Spring sale")
        expect(page.locator("header.topbar")).to_be_visible()
        assert "pwned" not in page.title()
        assert page.evaluate("document.body.innerHTML.trim()") != "pwned"
        expect(page.locator("textarea[name=html]")).to_be_visible()
        assert page.locator("body > *").count() > 1
        assert not [u for u in requests if "/app/users" in u], requests

    portal_intact()

    # Live preview while typing: the new script is just as inert, the new text shows up.
    editor = page.locator("textarea[name=html]")
    with page.expect_response(lambda r: r.url.endswith("/preview") and r.request.method == "POST") as answer:
        editor.fill(
            "<html><body><p>Changed for {{ first_name }}</p>"
            "<script>parent.location='https://evil.test/'; fetch('/app/users')</script></body></html>"
        )
    assert answer.value.ok
    expect(preview.get_by_text("Changed for Alex")).to_be_visible()
    page.wait_for_timeout(300)
    portal_intact()
    assert page.url.startswith(portal.url(f"/app/campaigns/{s.campaign_id}"))
    # The preview frame is an opaque origin: it cannot read the portal's cookies or DOM.
    origin = preview.locator("body").evaluate(
        "() => { try { return window.origin } catch (e) { return 'blocked' } }"
    )
    assert origin == "null"
    screenshot("preview")
