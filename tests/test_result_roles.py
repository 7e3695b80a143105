"""Results are readable by the roles that may start them: inside a client, admins and editors (and agency
staff acting as the client) start exports and imports, so only they download an export's file or an
import's error report; a viewer gets 403 and no link. Another tenant's result stays 404 for every role."""

from __future__ import annotations

import re

import pytest

from .support import client_for, run_jobs
from .test_client_area import act_as
from .test_transfers_imports import GOOD_AND_BAD, imp_row, import_id_from, make_list, start, upload

READERS = ("A1.admin", "A1.editor", "act:AG1.owner", "act:AG1.staff")
NOT_STARTERS = ("A1.viewer",)
OTHER_TENANTS = ("A2.admin", "A2.editor", "A2.viewer", "B1.admin", "B1.viewer", "AG2.owner", "act:AG2.owner")


def _http(app, world, key: str):
    if key.startswith("act:"):
        staff = key.removeprefix("act:")
        return act_as(app, world, staff, "A1" if staff.startswith("AG1") else "B1")
    return client_for(app, world, key)


def _run_id(resp, pattern: str) -> int:
    assert resp.status_code == 302, resp.status_code
    return int(re.search(pattern, resp.location).group(1))


@pytest.fixture
def results(app, world) -> dict[str, int]:
    """Started the ordinary way by A1's admin (an export, the activity log, an import with rejected rows)
    and by AG1's owner (the agency's own activity log), then run by a real worker."""
    list_id = make_list(app, world)
    admin = client_for(app, world, "A1.admin")
    export = _run_id(
        admin.post("/app/exports", {"source": f"list:{list_id}"}, csrf_path="/app/imports"),
        r"/app/exports/(\d+)$",
    )
    activity = _run_id(
        admin.post("/app/activity/export", csrf_path="/app/activity"), r"/activity/export/(\d+)$"
    )
    import_id = import_id_from(upload(admin, GOOD_AND_BAD.encode()))
    start(admin, import_id, [list_id])
    owner = client_for(app, world, "AG1.owner")
    agency = _run_id(
        owner.post("/agency/activity/export", csrf_path="/agency/activity"), r"/activity/export/(\d+)$"
    )
    run_jobs(app)
    assert imp_row(app, world, import_id).status == "done"
    return {"export": export, "activity": activity, "import": import_id, "agency": agency}


def _paths(r: dict[str, int]) -> dict[str, str]:
    return {
        "export": f"/jobs/{r['export']}/result",
        "activity": f"/jobs/{r['activity']}/result",
        "errors": f"/app/imports/{r['import']}/errors.csv",
    }


@pytest.mark.parametrize("key", READERS)
def test_those_who_may_start_them_download_results(app, world, results, key):
    http = _http(app, world, key)
    for name, path in _paths(results).items():
        resp = http.get(path)
        assert resp.status_code == 200, (key, name)
        assert resp.headers["Cache-Control"] == "private, no-store"
        assert resp.mimetype == "text/csv"
    for name in ("export", "activity"):
        status = http.get(f"/jobs/{results[name]}.json").get_json()
        assert status["result_url"] == f"/jobs/{results[name]}/result", (key, name)
    assert 'data-testid="error-report"' in http.get(f"/app/imports/{results['import']}").get_data(
        as_text=True
    )
    assert f"/jobs/{results['export']}/result" in http.get("/app/imports").get_data(as_text=True)


@pytest.mark.parametrize("key", NOT_STARTERS)
def test_a_viewer_reads_the_pages_but_not_the_results(app, world, results, key):
    http = _http(app, world, key)
    for name, path in _paths(results).items():
        assert http.get(path).status_code == 403, (key, name)
    status = http.get(f"/jobs/{results['export']}.json").get_json()
    assert status["state"] == "done" and status["result_url"] is None
    detail = http.get(f"/app/imports/{results['import']}")
    assert detail.status_code == 200
    html = detail.get_data(as_text=True)
    assert "errors.csv" not in html and "Administrators and editors of the account can download" in html
    history = http.get("/app/imports").get_data(as_text=True)
    assert "/result" not in history and 'data-testid="exports-table"' in history


@pytest.mark.parametrize("key", OTHER_TENANTS)
def test_another_tenants_results_stay_404(app, world, results, key):
    http = _http(app, world, key)
    paths = {**_paths(results), "agency": f"/jobs/{results['agency']}/result"}
    for name, path in paths.items():
        assert http.get(path).status_code == 404, (key, name)
    for name in ("export", "activity", "agency"):
        assert http.get(f"/jobs/{results[name]}.json").status_code == 404, (key, name)


@pytest.mark.parametrize(("key", "code"), [("AG1.owner", 200), ("AG1.staff", 200), ("A1.admin", 404)])
def test_the_agency_log_is_the_agencys_own(app, world, results, key, code):
    assert _http(app, world, key).get(f"/jobs/{results['agency']}/result").status_code == code
