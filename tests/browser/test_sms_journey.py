"""Issue 9 in a real browser: a client admin writes an SMS and the counter beside the text shows the
server's own figures while typing — for every worked example of email-sms-standards.md §5.2 — then picks
the list, sees the cost, sends (a real RQ worker hands the messages to the gateway emulator over HTTP),
the emulator posts its delivery reports to the live portal, and the report page shows delivered and
failed recipients with the credits used."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from portal.sms.segments import count

from ..sms_support import setup_client, start_gateway
from ..support import run_jobs
from ..test_sms_segments import WORKED
from .pages import Dialogs, Portal

pytestmark = pytest.mark.browser

NUMBERS = ["+393471234567", "+393471230000"]  # the second one's report says "unknown subscriber"


def _expect_counter(page, text: str) -> None:
    server = count(text)
    box = page.get_by_test_id("sms-counter")
    expect(box.locator('[data-sms="encoding"]')).to_have_text(server.encoding)
    expect(box.locator('[data-sms="characters"]')).to_have_text(str(server.characters))
    expect(box.locator('[data-sms="segments"]')).to_have_text(str(server.segments))


def test_write_count_send_and_read_the_delivery_report(app, page, live_server, world, screenshot):
    url, gateway = start_gateway(f"http://127.0.0.1:{live_server.port}")
    try:
        setup_client(app, world, "A1", url, NUMBERS, pool=100, credits_to_give=20)
        portal = Portal(page, live_server, world.hosts["AG1"])
        portal.login(world.users["A1.admin"])

        portal.goto("/app/sms")
        page.get_by_label("Campaign name").fill("Flash sale")
        page.get_by_role("button", name="Create SMS campaign").click()
        portal.path_is(r"/app/sms/\d+$")
        campaign_path = urlsplit(page.url).path

        text_box = page.get_by_label("Text", exact=True)
        for text, _units, _encoding, _segments in WORKED:
            text_box.fill(text)
            _expect_counter(page, text)
        text_box.fill("")
        text_box.press_sequentially("Saldi: -50% da oggi")
        _expect_counter(page, "Saldi: -50% da oggi")
        text_box.press_sequentially(" È")  # one capital E grave turns the whole text into UCS-2
        _expect_counter(page, "Saldi: -50% da oggi È")
        expect(page.locator('[data-sms="non_gsm"]')).to_have_text("È")

        page.get_by_label("Lists").select_option(label="SMS fans")
        page.get_by_role("button", name="Save").click()
        expect(portal.flashes).to_contain_text("Saved.")
        estimate = page.get_by_test_id("sms-estimate")
        expect(estimate.locator('[data-estimate="recipients"]')).to_have_text("2")
        expect(estimate.locator('[data-estimate="credits"]')).to_have_text("2")
        screenshot("written")

        dialogs = Dialogs(page)
        dialogs.answer_next(True)
        page.get_by_role("button", name="Send now").click()
        portal.path_is(re.escape(campaign_path) + "/report$")
        run_jobs(app)
        assert sorted(m.to for m in gateway.state.messages) == sorted(NUMBERS)
        assert gateway.state.messages[0].unicode is True
        assert gateway.state.flush_reports() == 2

        page.reload()
        figures = page.get_by_test_id("sms-figures")
        expect(figures.locator('[data-figure="delivered"]')).to_have_text("1")
        expect(figures.locator('[data-figure="failed"]')).to_have_text("1")
        expect(figures.locator('[data-figure="credits_used"]')).to_have_text("1")
        failed = page.locator('[data-testid=sms-recipient][data-number="+393471230000"]')
        expect(failed).to_contain_text("unknown subscriber")
        # The chart over time: delivered and failed per hour, drawn by the report charts' script.
        assert page.locator("#sms-chart-hourly").evaluate("c => !!c.chart")
        timeline = page.locator("#sms-timeline").evaluate("n => JSON.parse(n.textContent).hourly")
        assert (sum(timeline["opens"]), sum(timeline["clicks"])) == (1, 1)
        screenshot("report")
    finally:
        gateway.stop()
