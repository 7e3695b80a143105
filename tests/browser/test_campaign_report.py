"""Journey: a client admin opens the report of a sent campaign with some opens and clicks. Chart.js loads from
our own origin, both charts render on canvases of real size from the JSON data island, the figures show,
and the recipient filter works — with no console error and no CSP violation (the page fixture fails on any)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from ..reports_support import add_events, sent_campaign
from .pages import Portal

pytestmark = pytest.mark.browser

PEOPLE = ["anna@example.org", "bruno@example.org", "carla@example.org"]


def test_report_charts_render_without_console_or_csp_errors(app, page, live_server, world, screenshot):
    s = sent_campaign(app, world, PEOPLE, started_ago=timedelta(days=4))
    h = timedelta(hours=1)
    add_events(
        app,
        s,
        [
            ("anna@example.org", "open", {"after": h}),
            (
                "anna@example.org",
                "click",
                {"link_index": 0, "detail": "https://shop.example.com/", "after": h},
            ),
            ("bruno@example.org", "open", {"after": 3 * h}),
            ("bruno@example.org", "open", {"after": timedelta(days=3)}),
            ("carla@example.org", "bounce", {"bounce_class": "hard", "status_code": "5.1.1"}),
        ],
    )
    portal = Portal(page, live_server, world.hosts["AG1"])
    portal.login(world.users["A1.admin"])
    portal.goto("/app/reports/")
    page.get_by_role("link", name="Spring sale").click()
    portal.path_is(rf"/app/reports/campaigns/{s.campaign_id}")
    page.wait_for_load_state("load")

    assert page.evaluate("typeof window.Chart") == "function", page.evaluate(
        "() => Array.from(document.scripts).map(s => s.src + ' ' + s.type)"
    )
    for chart in ("#chart-hourly", "#chart-daily"):
        canvas = page.locator(chart)
        expect(canvas).to_be_visible()
        size = canvas.evaluate("c => [c.width, c.height, !!window.Chart.getChart(c)]")
        assert size[0] > 0 and size[1] > 0 and size[2], (chart, size)
    points = page.evaluate(
        "() => window.Chart.getChart(document.querySelector('#chart-hourly')).data.datasets[0].data"
    )
    assert len(points) == 48 and sum(points) == 2
    expect(page.get_by_test_id("figures")).to_contain_text("Unique opens")
    expect(page.locator('[data-metric="opens"] .value')).to_have_text("2")

    recipients = page.get_by_test_id("recipients")
    recipients.get_by_label("Bounced").select_option("hard")
    recipients.get_by_role("button", name="Filter").click()
    expect(page.locator("tr[data-recipient]")).to_have_count(1)
    expect(page.locator("tr[data-recipient]")).to_contain_text("carla@example.org")
    screenshot("campaign-report")
