"""Journey: a client admin connects an SFTP server the test starts. Create the source, see "Run now" held
back until the host key is pinned, test the connection and pin the key it shows, run now, watch the run's
progress while a real RQ worker fetches and imports the file, and read the history (file, import result,
the file moved to processed/ on the server)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.models import MailingList
from portal.tenancy import bind_tenant

from ..batch_servers import PASSWORD, USER, SftpServer
from ..support import run_jobs
from .pages import Portal

pytestmark = pytest.mark.browser


def test_create_pin_run_and_read_the_history(app, page, live_server, world, tmp_path, screenshot):
    agency_id, client_id = world.agency_ids["AG1"], world.client_ids["A1"]
    with app.app_context(), bind_tenant(agency_id, client_id):
        db.session.add(MailingList(agency_id=agency_id, client_id=client_id, name="Customers"))
        db.session.commit()
    root = tmp_path / "sftp"
    root.mkdir()
    (root / "crm-export.csv").write_text("email;name\r\nanna@example.com;Anna\r\nbad-address;Bruno\r\n")
    portal = Portal(page, live_server, world.hosts["AG1"])
    portal.login(world.users["A1.admin"])

    with SftpServer(root) as server:
        portal.goto("/app/batch")
        expect(page.get_by_role("heading", name="No file source yet")).to_be_visible()
        page.get_by_role("link", name="New source").first.click()
        page.get_by_label("Name", exact=True).fill("CRM nightly")
        page.get_by_label("SFTP (SSH, recommended)").check()
        page.get_by_label("Server", exact=True).fill("127.0.0.1")
        page.get_by_label("Port", exact=True).fill(str(server.port))
        page.get_by_label("User name").fill(USER)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Import into the list").select_option(label=f"Customers (#{_list_id(app, world)})")
        screenshot("form")
        page.get_by_role("button", name="Save").click()
        portal.path_is(r"/app/batch/\d+$")
        expect(page.get_by_role("button", name="Run now")).to_be_disabled()

        page.get_by_role("button", name="Test connection").click()
        expect(page.get_by_test_id("probe")).to_contain_text("SHA256:")
        page.get_by_role("button", name="Pin this key").click()
        expect(page.get_by_role("button", name="Run now")).to_be_enabled()
        page.get_by_role("button", name="Test connection").click()
        expect(page.get_by_test_id("probe")).to_contain_text("Files waiting: 1")
        expect(page.get_by_test_id("probe")).to_contain_text("crm-export.csv")

        page.get_by_role("button", name="Run now").click()
        portal.path_is(r"/app/batch/runs/\d+$")
        expect(page.get_by_test_id("progress")).to_be_visible()
        run_jobs(app)  # a real RQ worker: connect, download, import through the import engine, move
        expect(page.get_by_test_id("run-state")).to_have_text("done", timeout=20_000)
        row = page.get_by_test_id("file-crm-export.csv")
        expect(row).to_contain_text("processed/crm-export.csv")
        expect(row).to_contain_text("1 created")
        screenshot("history")
        row.get_by_role("link", name="Import result").click()
        expect(page.get_by_test_id("count-invalid")).to_contain_text("1")
    assert (root / "processed" / "crm-export.csv").exists()
    assert "mailup" not in page.content().lower()


def _list_id(app, world) -> int:
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        return db.session.query(MailingList.id).filter_by(name="Customers").scalar()
