"""Journey: a client admin imports contacts. Upload a CSV with some bad rows, map the columns (changing one
select), start, watch the progress bar finish while a real RQ worker runs the import, read the counts, and
download the error report with the bad lines."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.models import MailingList
from portal.tenancy import bind_tenant

from ..support import run_jobs
from .pages import Portal

pytestmark = pytest.mark.browser

CSV_TEXT = (
    "Email;Nome;Città\r\n"
    "anna@example.com;Anna;Roma\r\n"
    "not-an-email;Bruno;Milano\r\n"
    "carla@example.com;Carla;Torino\r\n"
    "anna@example.com;Anna bis;Roma\r\n"
    "@broken;Dario;Bari\r\n"
    "elena@example.com;Elena;Napoli\r\n"
)


def _seed_list(app, world) -> None:
    agency_id, client_id = world.agency_ids["AG1"], world.client_ids["A1"]
    with app.app_context(), bind_tenant(agency_id, client_id):
        db.session.add(MailingList(agency_id=agency_id, client_id=client_id, name="Newsletter"))
        db.session.commit()


def test_upload_map_progress_counts_and_error_report(app, page, live_server, world, tmp_path, screenshot):
    _seed_list(app, world)
    source = tmp_path / "clienti.csv"
    source.write_bytes(CSV_TEXT.encode("utf-8"))
    portal = Portal(page, live_server, world.hosts["AG1"])
    portal.login(world.users["A1.admin"])

    portal.goto("/app/imports")
    expect(page.get_by_role("heading", name="No imports yet")).to_be_visible()
    page.get_by_role("link", name="New import").first.click()
    portal.path_is("/app/imports/new")
    expect(page.get_by_test_id("upload-limits")).to_contain_text("100 MB")

    upload = page.get_by_test_id("upload-csv")
    upload.get_by_label("File").set_input_files(str(source))
    upload.get_by_role("button", name="Upload and continue").click()
    portal.path_is(r"/app/imports/\d+/map")

    # The preview and what was detected; the email column is recognised on its own.
    table = page.get_by_test_id("mapping-table")
    expect(table).to_contain_text("carla@example.com")
    expect(page.get_by_test_id("detected")).to_contain_text("semicolon")
    expect(page.get_by_label("Email", exact=True)).to_have_value("email")
    page.get_by_label("Nome", exact=True).select_option(label="New field: text")
    page.get_by_label("Newsletter").check()
    screenshot("mapping")
    page.get_by_role("button", name="Start the import").click()
    portal.path_is(r"/app/imports/\d+$")

    card = page.get_by_test_id("progress")
    expect(card).to_be_visible()
    expect(page.get_by_role("button", name="Cancel the import")).to_be_visible()

    run_jobs(app)  # a real RQ worker drains the queue in this process

    # The card reaches "done", then the page reloads itself and shows the outcome.
    expect(page.get_by_test_id("count-created")).to_contain_text("3", timeout=20_000)
    expect(page.get_by_test_id("count-invalid")).to_contain_text("2")
    expect(page.get_by_test_id("count-duplicates")).to_contain_text("1")
    expect(page.get_by_test_id("progress")).to_have_count(0)
    screenshot("done")

    with page.expect_download() as info:
        page.get_by_role("link", name="Download the error report").click()
    download = info.value
    assert download.suggested_filename.endswith("-errors.csv")
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8-sig").read())))
    assert {int(r["line"]) for r in rows} == {3, 6}
    assert {r["value"] for r in rows} == {"not-an-email", "'@broken"}  # formula-safe cell

    portal.goto("/app/imports")
    expect(page.get_by_test_id("imports-table")).to_contain_text("clienti.csv")
    assert "mailup" not in page.content().lower()
