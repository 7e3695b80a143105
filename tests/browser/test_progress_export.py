"""Journey 5: the progress component. A client admin exports the activity log as a background job, watches
the bar reach 100 % while a real RQ worker runs it, and downloads the CSV."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.models import User
from portal.services.audit import record
from portal.tenancy import bind_tenant

from ..support import run_jobs
from .pages import Portal

pytestmark = pytest.mark.browser

TARGETS = [f"list-{i:02d}" for i in range(12)]


def _seed_activity(app, world) -> None:
    """Data setup through the DB: a dozen recognisable events in client A1's log."""
    agency_id, client_id = world.agency_ids["AG1"], world.client_ids["A1"]
    with app.app_context(), bind_tenant(agency_id, client_id):
        actor = db.session.get(User, world.user_ids["A1.editor"])
        for target in TARGETS:
            record("user.created", actor=actor, agency_id=agency_id, client_id=client_id, target=target)
        db.session.commit()
    other_agency, other_client = world.agency_ids["AG2"], world.client_ids["B1"]
    with app.app_context(), bind_tenant(other_agency, other_client):
        actor = db.session.get(User, world.user_ids["B1.admin"])
        record(
            "user.created", actor=actor, agency_id=other_agency, client_id=other_client, target="not-yours"
        )
        db.session.commit()


def test_activity_export_shows_progress_and_downloads_csv(app, page, live_server, world, screenshot):
    _seed_activity(app, world)
    portal = Portal(page, live_server, world.hosts["AG1"])
    portal.login(world.users["A1.admin"])
    portal.goto("/app/activity")
    expect(page.get_by_test_id("activity-table")).to_contain_text("list-11")

    page.get_by_role("button", name="Export CSV").click()
    card = page.get_by_test_id("progress")
    expect(card).to_be_visible()
    result = card.get_by_role("link", name="Download the result")
    expect(result).to_be_hidden()  # nothing to download before a worker ran the job

    run_jobs(app)  # a real RQ worker drains the queue in this process

    expect(card).to_have_attribute("data-state", "done", timeout=20_000)
    expect(card.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(card.locator(".progress-fill")).to_have_attribute("style", re.compile(r"width:\s*100%"))
    expect(result).to_be_visible()
    screenshot("done")

    with page.expect_download() as info:
        result.click()
    download = info.value
    assert download.suggested_filename == "activity-log.csv"
    text = open(download.path(), encoding="utf-8-sig").read()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["time (UTC)", "action", "user", "target", "ip", "details"]
    targets = {r[3] for r in rows[1:]}
    assert set(TARGETS) <= targets
    assert all(r[2] == world.users["A1.editor"] for r in rows[1:] if r[3] in TARGETS)
    assert "not-yours" not in text and world.users["B1.admin"] not in text  # another tenant's log
    assert "mailup" not in text.lower()
