"""The agency activity log and its CSV export job with progress."""

from __future__ import annotations

from .support import client_for, run_jobs


def test_activity_lists_agency_and_client_events_only(app, world):
    c = client_for(app, world, "AG1.staff")
    html = c.get("/agency/activity").get_data(as_text=True)
    assert "Client created" in html and "Client A1" in html
    assert "Client B1" not in html and "owner@ag2.test" not in html


def test_export_job_progress_and_download(app, world):
    owner = client_for(app, world, "AG1.owner")
    resp = owner.post("/agency/activity/export", csrf_path="/agency/activity")
    assert resp.status_code == 302
    page_path = resp.headers["Location"]
    run_id = int(page_path.rstrip("/").rsplit("/", 1)[1])
    page = owner.get(page_path).get_data(as_text=True)
    assert f"/jobs/{run_id}.json" in page and 'data-testid="progress"' in page
    run_jobs(app)
    status = owner.get(f"/jobs/{run_id}.json").get_json()
    assert status["state"] == "done" and status["result_url"]
    download = owner.get(status["result_url"])
    assert download.status_code == 200 and download.mimetype == "text/csv"
    text = download.get_data().decode("utf-8-sig")
    assert text.startswith("time (UTC),action") and "login.succeeded" in text and "owner@ag1.test" in text
    assert "ag2" not in text
    # Another agency's owner cannot see the job or its file.
    ag2 = client_for(app, world, "AG2.owner")
    assert ag2.get(f"/jobs/{run_id}.json").status_code == 404
    assert ag2.get(f"/jobs/{run_id}/result").status_code == 404
    assert ag2.get(page_path).status_code == 404


def test_activity_pages(app, world):
    from portal.extensions import db
    from portal.services.audit import record
    from portal.tenancy import bind_tenant

    with app.app_context(), bind_tenant(world.agency_ids["AG1"]):
        for i in range(60):
            record("test.event", actor=None, agency_id=world.agency_ids["AG1"], target=f"t{i}")
        db.session.commit()
    c = client_for(app, world, "AG1.owner")
    assert "Page 1 of 2" in c.get("/agency/activity").get_data(as_text=True)
    assert "Page 2 of 2" in c.get("/agency/activity?page=2").get_data(as_text=True)
