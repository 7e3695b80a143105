"""Client activity: this client's audit rows only, paged, and exported to CSV by a background job."""

from .support import client_for, run_jobs


def test_activity_lists_only_this_clients_events(app, world):
    client_for(app, world, "A2.admin").post(
        "/app/settings", {"name": "Client A2", "timezone": "UTC", "default_region": "DE"}
    )
    html = client_for(app, world, "A1.viewer").get("/app/activity").get_data(as_text=True)
    assert "admin@a1.test" in html  # "User added" rows of the client's own users
    assert "admin@a2.test" not in html and "owner@ag1.test" not in html
    assert "Settings saved" not in html
    assert "Export CSV" not in html  # viewers look, they do not start jobs


def test_export_csv_job_contains_only_this_client(app, world):
    editor = client_for(app, world, "A1.editor")
    resp = editor.post("/app/activity/export", csrf_path="/app/activity")
    assert resp.status_code == 302
    page_url = resp.headers["Location"]
    page = editor.get(page_url).get_data(as_text=True)
    assert 'data-testid="progress"' in page
    run_id = int(page_url.rsplit("/", 1)[1])
    assert f'data-progress-url="/jobs/{run_id}.json"' in page

    run_jobs(app)
    state = editor.get(f"/jobs/{run_id}.json").get_json()
    assert state["state"] == "done" and state["result_url"]
    csv = editor.get(state["result_url"]).get_data(as_text=True)
    assert "user.created" in csv and "admin@a1.test" in csv and "activity.exported" in csv
    assert "a2.test" not in csv  # not A2's events
    assert "owner@ag1.test" not in csv and "agency.created" not in csv  # not agency-level events
    assert "mailup" not in csv.lower()

    # Other tenants: B1's admin (other agency) and A2's admin (same agency) see nothing of it.
    for key in ("B1.admin", "A2.admin"):
        other = client_for(app, world, key)
        assert other.get(page_url).status_code == 404
        assert other.get(f"/jobs/{run_id}.json").status_code == 404
        assert other.get(f"/jobs/{run_id}/result").status_code == 404


def test_viewer_cannot_export(app, world):
    viewer = client_for(app, world, "A1.viewer")
    assert viewer.post("/app/activity/export", csrf_path="/app/activity").status_code == 403


def test_activity_pages(app, world):
    from portal.extensions import db
    from portal.services.audit import record
    from portal.tenancy import bind_tenant

    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        for i in range(60):
            record("user.created", actor=None, agency_id=world.agency_ids["AG1"], target=f"bulk{i}@a1.test")
        db.session.commit()
    admin = client_for(app, world, "A1.admin")
    first = admin.get("/app/activity").get_data(as_text=True)
    assert "Page 1 of 2" in first and "bulk59@a1.test" in first and "bulk0@a1.test" not in first
    second = admin.get("/app/activity?page=2").get_data(as_text=True)
    assert "bulk0@a1.test" in second
