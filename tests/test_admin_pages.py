"""Back-office pages: each renders for the platform admin, and nowhere else."""

from __future__ import annotations

import pytest

from portal.extensions import db
from portal.tenancy import all_tenants

from .support import ADMIN_HOST, HostClient, client_for

PAGES = [
    "/admin/",
    "/admin/agencies",
    "/admin/agencies/new",
    "/admin/users",
    "/admin/users/new",
    "/admin/jobs",
    "/admin/outbox",
    "/admin/audit",
]


def test_every_page_renders_for_the_platform_admin(app, world):
    admin = client_for(app, world, "admin")
    agency_id = world.agency_ids["AG1"]
    for path in [*PAGES, f"/admin/agencies/{agency_id}", f"/admin/agencies/{agency_id}/edit"]:
        resp = admin.get(path)
        assert resp.status_code == 200, path
        assert "Overview" in resp.get_data(as_text=True)
    for kind in ("smtp", "mailup", "sms"):
        assert admin.get(f"/admin/agencies/{agency_id}/connections/new/{kind}").status_code == 200


def test_overview_counts(app, world):
    page = client_for(app, world, "admin").get("/admin/").get_data(as_text=True)
    assert 'data-testid="stat-agencies-active">2<' in page
    assert 'data-testid="stat-clients">3<' in page
    assert 'data-testid="stat-workers">0<' in page


@pytest.mark.parametrize("path", PAGES)
def test_admin_pages_are_404_on_agency_hosts(app, world, path):
    owner = client_for(app, world, "AG1.owner")
    assert owner.get(path).status_code == 404


def test_agency_owner_cannot_reach_the_back_office(app, world):
    # Their session is bound to the agency host; on the admin host they are anonymous and their
    # credentials do not exist there.
    on_admin = HostClient(app, ADMIN_HOST)
    resp = on_admin.post("/login", {"email": world.users["AG1.owner"], "password": "correct horse battery"})
    assert resp.status_code == 200 and "Wrong email or password" in resp.get_data(as_text=True)
    assert on_admin.get("/admin/").status_code == 302


def test_anonymous_is_sent_to_login(app, world):
    resp = HostClient(app, ADMIN_HOST).get("/admin/agencies")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_unknown_ids_are_404(app, world):
    admin = client_for(app, world, "admin")
    for path in (
        "/admin/agencies/99999",
        "/admin/agencies/99999/edit",
        f"/admin/agencies/{world.agency_ids['AG1']}/connections/new/fax",
        f"/admin/agencies/{world.agency_ids['AG1']}/connections/99999/edit",
        "/admin/jobs/no-such-job",
        "/admin/jobs/..%2F..%2Fetc",
        "/admin/outbox/..%2Fsecret",
        "/admin/outbox/20240101T000000000000-" + "0" * 32,
    ):
        assert admin.get(path).status_code == 404, path


def test_audit_log_filters(app, world):
    admin = client_for(app, world, "admin")
    ag2 = world.agency_ids["AG2"]
    page = admin.get(f"/admin/audit?agency={ag2}&action=client.created").get_data(as_text=True)
    assert "Client B1" in page and "Client A1" not in page
    platform = admin.get("/admin/audit?agency=platform&action=login.succeeded").get_data(as_text=True)
    assert "root@portal.test" in platform
    assert admin.get("/admin/audit?agency=not-an-agency").status_code == 400
    assert admin.get("/admin/audit?action=%3Cscript%3E").status_code == 400


def test_audit_log_paginates(app, world):
    from portal.services.audit import record

    with app.app_context(), all_tenants():
        for i in range(60):
            record("test.event", actor=None, agency_id=None, target=f"t{i}")
        db.session.commit()
    admin = client_for(app, world, "admin")
    first = admin.get("/admin/audit?action=test.event").get_data(as_text=True)
    assert "t59" in first and "Page 1 of 2" in first
    second = admin.get("/admin/audit?action=test.event&page=2").get_data(as_text=True)
    assert "t0<" in second and "t59<" not in second
