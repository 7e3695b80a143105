"""The client's suppression pages by role, the agency-wide and platform-wide pages, CSV export, chart data,
cross-tenant 404s, and white-label (no provider name anywhere an agency or client looks)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, BlockedAddress, Client, JobRun, Suppression, User
from portal.services import suppression as supp
from portal.tenancy import all_tenants, bind_tenant

from .support import ADMIN_HOST, client_for, read_result_file, run_jobs


def _seed(
    app, world, key="A1", entries=(("anna@example.com", "unsubscribe"), ("hb@example.com", "hard_bounce"))
):
    ag = world.agency_ids["AG2" if key.startswith("B") else "AG1"]
    cid = world.client_ids[key]
    ids = {}
    with app.app_context(), bind_tenant(ag, cid):
        client = db.session.scalar(select(Client).where(Client.id == cid))
        for address, reason in entries:
            e = supp.add(
                actor=None,
                client=client,
                channel="email",
                raw_address=address,
                reason=reason,
                source="bounce",
            )
            db.session.flush()
            ids[address] = e.id
        db.session.commit()
    return ids


def _count(app, model=Suppression, **where):
    with app.app_context(), all_tenants():
        q = select(func.count(model.id))
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return db.session.scalar(q)


def _text(resp) -> str:
    return resp.get_data(as_text=True)


@pytest.mark.parametrize("key", ["A1.admin", "A1.editor", "A1.viewer"])
def test_list_page_for_each_role(app, world, key):
    _seed(app, world)
    http = client_for(app, world, key)
    resp = http.get("/app/suppression")
    assert resp.status_code == 200
    page = _text(resp)
    assert "anna@example.com" in page and "hb@example.com" in page
    assert "Hard bounce" in page and "Unsubscribed" in page  # translated labels, not keys
    assert 'data-testid="chart"' in page and "<svg" in page
    writer = key != "A1.viewer"
    assert ('href="/app/suppression/add"' in page) is writer
    assert ('data-testid="export-job"' in page) is writer
    assert "/app/suppression/export.csv" not in page  # the direct download is offered for filtered views
    if writer:
        filtered = _text(http.get("/app/suppression?reason=hard_bounce"))
        assert "/app/suppression/export.csv?reason=hard_bounce" in filtered
    # Only client admins see a remove link, and only on the unprotected entry.
    assert len(re.findall(r"/app/suppression/\d+/remove", page)) == (1 if key == "A1.admin" else 0)
    assert "mailup" not in page.lower()


def test_empty_state_and_filters(app, world):
    http = client_for(app, world, "A1.viewer")
    page = _text(http.get("/app/suppression"))
    assert "The suppression list is empty" in page and "suppression-table" not in page
    _seed(app, world)
    page = _text(http.get("/app/suppression?q=ANNA"))
    assert "anna@example.com" in page and "hb@example.com" not in page
    page = _text(http.get("/app/suppression?reason=hard_bounce"))
    assert "hb@example.com" in page and "anna@example.com" not in page
    page = _text(http.get("/app/suppression?date_to=2000-01-01"))
    assert "No entry matches these filters" in page
    # Nonsense filter values are ignored rather than failing.
    assert http.get("/app/suppression?reason=bogus&date_from=yesterday&page=99").status_code == 200


def test_paging(app, world):
    _seed(app, world, entries=[(f"p{i:03d}@example.com", "manual") for i in range(supp.PER_PAGE + 5)])
    http = client_for(app, world, "A1.viewer")
    first = _text(http.get("/app/suppression?channel=email"))
    assert "Page 1 of 2" in first and "channel=email" in first
    second = _text(http.get("/app/suppression?channel=email&page=2"))
    assert len(re.findall(r'<tr data-entry="', second)) == 5


def test_viewer_cannot_add_remove_or_export(app, world):
    ids = _seed(app, world)
    http = client_for(app, world, "A1.viewer")
    assert http.get("/app/suppression/add").status_code == 403
    resp = http.post(
        "/app/suppression/add",
        {"channel": "email", "addresses": "x@example.com"},
        csrf_path="/app/suppression",
    )
    assert resp.status_code == 403
    remove = f"/app/suppression/{ids['anna@example.com']}/remove"
    assert http.get(remove).status_code == 403
    assert http.post(remove, {"why": "x"}, csrf_path="/app/suppression").status_code == 403
    assert http.get("/app/suppression/export.csv").status_code == 403
    assert _count(app) == 2


def test_editor_adds_but_cannot_remove(app, world):
    ids = _seed(app, world)
    http = client_for(app, world, "A1.editor")
    resp = http.post(
        "/app/suppression/add", {"channel": "email", "addresses": "new@example.com\n", "reason": "manual"}
    )
    assert resp.status_code == 302
    assert _count(app, address="new@example.com", created_by_id=world.user_ids["A1.editor"]) == 1
    remove = f"/app/suppression/{ids['anna@example.com']}/remove"
    assert http.post(remove, {}, csrf_path="/app/suppression").status_code == 403
    assert _count(app, address="anna@example.com") == 1


def test_bulk_add_reports_invalid_lines_by_number(app, world):
    _seed(app, world)
    http = client_for(app, world, "A1.admin")
    lines = "ok1@example.com\nnot an address\n\nanna@example.com\nok1@example.com\nok2@example.com"
    resp = http.post(
        "/app/suppression/add", {"channel": "email", "addresses": lines, "reason": "manual", "note": "n"}
    )
    assert resp.status_code == 200
    page = _text(resp)
    assert "2 entries added" in page
    problems = re.findall(r"<tr><td>(\d+)</td><td class=\"addr\">([^<]*)</td><td>([^<]*)</td></tr>", page)
    assert [(n, v) for n, v, _ in problems] == [
        ("2", "not an address"),
        ("4", "anna@example.com"),
        ("5", "ok1@example.com"),
    ]
    assert "not a valid email address" in problems[0][2]
    assert "already on the suppression list" in problems[1][2]
    assert "line 1" in problems[2][2]
    assert _count(app, address="ok1@example.com") == 1 and _count(app, address="ok2@example.com") == 1


def test_add_form_rejects_protected_reason_values(app, world):
    http = client_for(app, world, "A1.admin")
    resp = http.post(
        "/app/suppression/add", {"channel": "email", "addresses": "x@example.com", "reason": "hard_bounce"}
    )
    assert resp.status_code == 200 and "Not a valid choice" in _text(resp)
    assert _count(app) == 0


def test_client_admin_removes_ordinary_entry_with_confirmation(app, world):
    ids = _seed(app, world)
    http = client_for(app, world, "A1.admin")
    path = f"/app/suppression/{ids['anna@example.com']}/remove"
    page = _text(http.get(path))
    assert "data-confirm=" in page and "does not subscribe anybody again" in page
    resp = http.post(path, {"why": ""})
    assert resp.status_code == 302
    assert _count(app, address="anna@example.com") == 0
    with app.app_context(), all_tenants():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "suppression.removed"))
        assert event.actor_id == world.user_ids["A1.admin"] and event.target == "anna@example.com"


def test_protected_entry_shows_rule_and_refuses_client_admin(app, world):
    ids = _seed(app, world)
    http = client_for(app, world, "A1.admin")
    path = f"/app/suppression/{ids['hb@example.com']}/remove"
    page = _text(http.get(path))
    assert 'data-testid="protected-rule"' in page and 'data-testid="not-allowed"' in page
    resp = http.post(path, {"why": "I insist"}, csrf_path="/app/suppression")
    assert resp.status_code == 422 and "Only your agency" in _text(resp)
    assert _count(app, address="hb@example.com") == 1


def test_agency_staff_acting_as_client_removes_protected_entry_with_reason(app, world):
    ids = _seed(app, world)
    a1 = world.client_ids["A1"]
    staff = client_for(app, world, "AG1.staff")
    assert staff.post(f"/agency/clients/{a1}/act", csrf_path=f"/agency/clients/{a1}").status_code == 302
    listing = _text(staff.get("/app/suppression"))
    assert len(re.findall(r"/app/suppression/\d+/remove", listing)) == 2
    path = f"/app/suppression/{ids['hb@example.com']}/remove"
    page = _text(staff.get(path))
    assert 'data-testid="protected-rule"' in page and "required" in page
    resp = staff.post(path, {"why": "  "})
    assert resp.status_code == 422 and "Say why" in _text(resp)
    assert _count(app, address="hb@example.com") == 1
    resp = staff.post(path, {"why": "Mailbox restored, checked with the client"})
    assert resp.status_code == 302
    assert _count(app, address="hb@example.com") == 0
    with app.app_context(), all_tenants():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "suppression.removed"))
        assert event.actor_id == world.user_ids["AG1.staff"]
        assert event.details["why"] == "Mailbox restored, checked with the client"


@pytest.mark.parametrize("key", ["A2.admin", "B1.admin"])
def test_another_clients_entry_is_404(app, world, key):
    ids = _seed(app, world)
    http = client_for(app, world, key)
    path = f"/app/suppression/{ids['anna@example.com']}/remove"
    assert http.get(path).status_code == 404
    assert http.post(path, {"why": "x"}, csrf_path="/app/suppression").status_code == 404
    assert "anna@example.com" not in _text(http.get("/app/suppression"))
    assert _count(app) == 2


def test_csv_export_content_and_formula_safety(app, world):
    _seed(
        app,
        world,
        entries=(("anna@example.com", "unsubscribe"), ("hb@example.com", "hard_bounce")),
    )
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        entry = db.session.scalar(select(Suppression).where(Suppression.address == "anna@example.com"))
        entry.note = '=HYPERLINK("http://evil.test")'
        entry.source = "mailup-sync"
        db.session.commit()
    with app.app_context(), all_tenants():
        user = db.session.get(User, world.user_ids["A1.editor"])
        user.name = "+cmd|' /C calc'!A0"
        db.session.commit()
    http = client_for(app, world, "A1.editor")
    http.post(
        "/app/suppression/add", {"channel": "email", "addresses": "-sum@example.com", "reason": "manual"}
    )
    resp = http.get("/app/suppression/export.csv")
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    body = resp.get_data(as_text=True)
    assert "mailup" not in body.lower()
    listing = _text(http.get("/app/suppression"))
    assert "mailup" not in listing.lower() and "Delivery provider" in listing
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0] == ["address", "channel", "reason", "source", "note", "added_at_utc", "added_by"]
    by_address = {r[0]: r for r in rows[1:]}
    assert set(by_address) == {"anna@example.com", "hb@example.com", "'-sum@example.com"}
    anna = by_address["anna@example.com"]
    assert anna[1:4] == ["email", "unsubscribe", "provider"]
    assert anna[4] == '\'=HYPERLINK("http://evil.test")'
    assert by_address["'-sum@example.com"][6] == "'+cmd|' /C calc'!A0"
    # Filters apply to the export as on the page.
    filtered = http.get("/app/suppression/export.csv?reason=hard_bounce").get_data(as_text=True)
    assert len(list(csv.reader(io.StringIO(filtered.lstrip("\ufeff"))))) == 2
    # Another client's export never contains A1's rows.
    other = client_for(app, world, "A2.admin").get("/app/suppression/export.csv").get_data(as_text=True)
    assert "anna@example.com" not in other


def test_chart_json_and_embedded_svg(app, world):
    _seed(app, world)
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        old = db.session.scalar(select(Suppression).where(Suppression.address == "hb@example.com"))
        old.created_at = datetime.now(UTC) - timedelta(days=45)
        db.session.commit()
    http = client_for(app, world, "A1.viewer")
    data = http.get("/app/suppression/chart.json").get_json()
    assert len(data["days"]) == 30 and data["total"] == 1
    assert data["series"] == {"unsubscribe": [0] * 29 + [1]}
    assert data["labels"] == {"unsubscribe": "Unsubscribed"}
    ninety = http.get("/app/suppression/chart.json?days=90").get_json()
    assert len(ninety["days"]) == 90 and ninety["total"] == 2 and ninety["series"]["hard_bounce"][-46] == 1
    assert http.get("/app/suppression/chart.json?days=7").get_json()["days"].__len__() == 30  # only 30 or 90
    page = _text(http.get("/app/suppression?days=90"))
    assert len(re.findall(r'<rect class="bar r-', page)) == 2
    assert "<script>" not in page  # nothing inline for the CSP
    # Another client's chart does not count A1's entries.
    assert client_for(app, world, "A2.admin").get("/app/suppression/chart.json").get_json()["total"] == 0


# --- agency-wide entries ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["AG1.owner", "AG1.staff"])
def test_agency_blocks_and_unblocks(app, world, key):
    _seed(app, world)
    http = client_for(app, world, key)
    page = _text(http.get("/agency/suppression"))
    assert "No blocked addresses" in page and 'data-testid="client-counts"' in page
    counts = dict(re.findall(r'<tr data-client="(\d+)"><td><a [^>]*>[^<]*</a></td><td>(\d+)</td>', page))
    assert counts == {str(world.client_ids["A1"]): "2", str(world.client_ids["A2"]): "0"}
    assert "mailup" not in page.lower()
    resp = http.post(
        "/agency/suppression/add",
        {"channel": "email", "address": "Abuser@Example.com", "reason": "abuse", "note": "ticket 7"},
        csrf_path="/agency/suppression",
    )
    assert resp.status_code == 302
    assert _count(app, BlockedAddress, agency_id=world.agency_ids["AG1"], address="abuser@example.com") == 1
    dup = http.post(
        "/agency/suppression/add",
        {"channel": "email", "address": "abuser@example.com", "reason": "abuse"},
        csrf_path="/agency/suppression",
    )
    assert dup.status_code == 422 and "already blocked" in _text(dup)
    bad = http.post(
        "/agency/suppression/add",
        {"channel": "sms", "address": "12", "reason": "legal"},
        csrf_path="/agency/suppression",
    )
    assert bad.status_code == 422 and "not a valid phone number" in _text(bad)
    # It applies to the agency's clients at once.
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A2"]):
        a2 = db.session.scalar(select(Client).where(Client.id == world.client_ids["A2"]))
        assert supp.suppression_reason(a2, "email", "abuser@example.com") == "abuse"
    page = _text(http.get("/agency/suppression"))
    [entry_id] = re.findall(r'<tr data-entry="(\d+)">', page)
    resp = http.post(f"/agency/suppression/{entry_id}/remove", {}, csrf_path="/agency/suppression")
    assert resp.status_code == 302
    assert _count(app, BlockedAddress) == 0
    with app.app_context(), all_tenants():
        actions = set(db.session.scalars(select(AuditEvent.action)))
        assert {"suppression.blocked", "suppression.unblocked"} <= actions


def test_agency_page_never_shows_platform_or_other_agency_entries_and_404s_them(app, world):
    with app.app_context(), all_tenants():
        admin = db.session.get(User, world.user_ids["admin"])
        platform = supp.add_blocked(
            actor=admin, agency_id=None, channel="email", address="plat@example.com", reason="legal"
        )
        other = supp.add_blocked(
            actor=admin,
            agency_id=world.agency_ids["AG2"],
            channel="email",
            address="ag2@example.com",
            reason="abuse",
        )
        db.session.commit()
        ids = (platform.id, other.id)
    http = client_for(app, world, "AG1.owner")
    page = _text(http.get("/agency/suppression"))
    assert "plat@example.com" not in page and "ag2@example.com" not in page
    assert "Client B1" not in page
    for entry_id in ids:
        assert (
            http.post(
                f"/agency/suppression/{entry_id}/remove", {}, csrf_path="/agency/suppression"
            ).status_code
            == 404
        )
    assert _count(app, BlockedAddress) == 2


def test_client_users_cannot_reach_agency_or_admin_suppression(app, world):
    http = client_for(app, world, "A1.admin")
    assert http.get("/agency/suppression").status_code == 404
    assert http.get("/admin/suppression").status_code == 404


# --- platform-wide entries ---------------------------------------------------------------------------


def test_admin_manages_platform_entries_only(app, world):
    with app.app_context(), all_tenants():
        admin = db.session.get(User, world.user_ids["admin"])
        agency_row = supp.add_blocked(
            actor=admin,
            agency_id=world.agency_ids["AG1"],
            channel="email",
            address="ag1@example.com",
            reason="abuse",
        )
        db.session.commit()
        agency_row_id = agency_row.id
    http = client_for(app, world, "admin")
    assert http.host == ADMIN_HOST
    page = _text(http.get("/admin/suppression"))
    assert "No blocked addresses" in page and "ag1@example.com" not in page
    resp = http.post(
        "/admin/suppression/add",
        {"channel": "sms", "address": "+39 347 123 4567", "reason": "legal"},
        csrf_path="/admin/suppression",
    )
    assert resp.status_code == 302
    assert _count(app, BlockedAddress, address="+393471234567") == 1
    with app.app_context(), all_tenants():
        row = db.session.scalar(select(BlockedAddress).where(BlockedAddress.address == "+393471234567"))
        assert row.agency_id is None
        row_id = row.id
    # Every client of every agency is covered.
    with app.app_context(), bind_tenant(world.agency_ids["AG2"], world.client_ids["B1"]):
        b1 = db.session.scalar(select(Client).where(Client.id == world.client_ids["B1"]))
        assert not supp.may_send(b1, "sms", "+393471234567")
    page = _text(http.get("/admin/suppression?q=%2B39"))
    assert "+393471234567" in page
    # An agency's row cannot be removed from the platform page.
    assert (
        http.post(
            f"/admin/suppression/{agency_row_id}/remove", {}, csrf_path="/admin/suppression"
        ).status_code
        == 404
    )
    assert (
        http.post(f"/admin/suppression/{row_id}/remove", {}, csrf_path="/admin/suppression").status_code
        == 302
    )
    assert _count(app, BlockedAddress) == 1


def test_agency_staff_cannot_reach_admin_suppression(app, world):
    http = client_for(app, world, "AG1.owner")
    assert http.get("/admin/suppression").status_code == 404


def test_whole_list_export_button_starts_the_export_job(app, world):
    _seed(app, world)
    http = client_for(app, world, "A1.editor")
    page = _text(http.get("/app/suppression"))
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*data-testid="export-job">', page)
    assert form and 'name="source" value="suppression"' in page
    resp = http.post(form.group(1), {"source": "suppression"}, csrf_path="/app/suppression")
    assert resp.status_code == 302 and "/app/exports/" in resp.headers["Location"]
    run_jobs(app)
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        run = db.session.scalar(select(JobRun).order_by(JobRun.id.desc()))
        assert run.state == "done"
        body = read_result_file(run)
        assert "anna@example.com" in body and "hb@example.com" in body
