"""CSV exports as jobs: a list with its statuses, a segment, the suppression list; formula-injection-safe
cells; an export → import round trip that restores phone numbers exactly; expiring downloads; isolation."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from portal.csvsafe import FORMULA_START
from portal.extensions import db
from portal.models import Client, Contact, Field, JobRun, MailingList, Segment, Subscription
from portal.services import suppression as supp
from portal.tenancy import bind_tenant

from .support import client_for, run_jobs
from .test_transfers_imports import imp_row, import_id_from, make_list, start, upload

PAYLOADS = [
    '=HYPERLINK("http://evil.test","click")',
    "+1+1",
    "-1+1",
    "@SUM(1,1)",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
    'a",=1+1',
    "a;=1+1",
]


def _seed_list(app, world, key="A1") -> int:
    """A list with one contact per payload (in the text field), E.164 phones, and a few statuses."""
    ag, cid = world.agency_ids["AG1" if key.startswith("A") else "AG2"], world.client_ids[key]
    with app.app_context(), bind_tenant(ag, cid):
        lst = MailingList(agency_id=ag, client_id=cid, name="Clienti 2024")
        other = MailingList(agency_id=ag, client_id=cid, name="Other")
        db.session.add_all(
            [
                lst,
                other,
                Field(agency_id=ag, client_id=cid, number=1, key="nome", label="Nome", kind="text"),
                Field(agency_id=ag, client_id=cid, number=2, key="eta", label="Età", kind="number"),
            ]
        )
        db.session.flush()
        for i, payload in enumerate(PAYLOADS):
            c = Contact(
                agency_id=ag,
                client_id=cid,
                email=f"c{i}@example.com",
                phone=f"+3934712345{i:02d}",
                fields={"nome": payload, "eta": 30 + i},
            )
            db.session.add(c)
            db.session.flush()
            db.session.add(
                Subscription(
                    agency_id=ag,
                    client_id=cid,
                    list_id=lst.id,
                    contact_id=c.id,
                    channel="email",
                    status="unsubscribed" if i == 0 else "subscribed",
                    consent_source="import",
                )
            )
        outsider = Contact(agency_id=ag, client_id=cid, email="outsider@example.org", fields={})
        db.session.add(outsider)
        db.session.flush()
        db.session.add(
            Subscription(
                agency_id=ag, client_id=cid, list_id=other.id, contact_id=outsider.id, channel="email"
            )
        )
        db.session.commit()
        return lst.id


def _export(app, http, source: str) -> tuple[int, bytes, str]:
    resp = http.post("/app/exports", {"source": source}, csrf_path="/app/imports")
    assert resp.status_code == 302, resp.status_code
    run_id = int(re.search(r"/app/exports/(\d+)$", resp.location).group(1))
    page = http.get(f"/app/exports/{run_id}").get_data(as_text=True)
    assert f"/jobs/{run_id}.json" in page
    run_jobs(app)
    status = http.get(f"/jobs/{run_id}.json").get_json()
    assert status["state"] == "done" and status["result_url"], status
    result = http.get(status["result_url"])
    assert result.status_code == 200
    filename = re.search(r'filename="?([^";]+)"?', result.headers["Content-Disposition"]).group(1)
    return run_id, result.get_data(), filename


def _rows(data: bytes, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter))


def test_list_export_has_fields_statuses_and_only_its_members(app, world):
    list_id = _seed_list(app, world)
    http = client_for(app, world, "A1.admin")
    _, data, filename = _export(app, http, f"list:{list_id}")
    assert re.fullmatch(r"list-clienti-2024-\d{8}\.csv", filename)
    rows = _rows(data)
    assert rows[0][:4] == ["email", "phone", "Nome", "Età"]
    assert "email status" in rows[0] and "sms status" in rows[0]
    body = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert set(body) == {f"c{i}@example.com" for i in range(len(PAYLOADS))}
    assert body["c0@example.com"]["email status"] == "unsubscribed"
    assert body["c1@example.com"]["email status"] == "subscribed"
    assert body["c1@example.com"]["Età"] == "31" and body["c1@example.com"]["sms status"] == ""
    assert "mailup" not in data.decode("utf-8-sig").lower()


def test_every_cell_is_formula_injection_safe(app, world):
    list_id = _seed_list(app, world)
    http = client_for(app, world, "A1.admin")
    _, data, _ = _export(app, http, f"list:{list_id}")
    text = data.decode("utf-8-sig")
    for delimiter in (",", ";", "\t"):  # however a spreadsheet splits the line, no cell starts a formula
        for row in _rows(data, delimiter):
            for cell in row:
                assert not cell.startswith(FORMULA_START), (delimiter, cell)
    rows = _rows(data)
    names = {r[0]: r[2] for r in rows[1:]}
    expected = [
        '\'=HYPERLINK("http://evil.test","click")',
        "'+1+1",
        "'-1+1",
        "'@SUM(1,1)",
        "'\t'=1+1",  # the tab is a separator too: the formula after it is quoted as well
        "'\r'=1+1",
        "'＝1+1",
        "a\",'=1+1",  # a breakout after a separator gets its own quote
        "a;'=1+1",
    ]
    assert [names[f"c{i}@example.com"] for i in range(len(PAYLOADS))] == expected
    phones = {r[1] for r in rows[1:]}
    assert all(p.startswith("'+39") for p in phones)  # E.164 numbers start with "+" too
    assert '"a;\'=1+1"' in text  # every cell quoted (RFC 4180 allows it)


def test_export_then_import_restores_phones_exactly(app, world):
    _seed_list(app, world)
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        list_id = db.session.scalar(select(MailingList.id).where(MailingList.name == "Clienti 2024"))
        original = dict(
            db.session.execute(select(Contact.email, Contact.phone).where(Contact.phone.isnot(None))).all()
        )
    owner = client_for(app, world, "A1.admin")
    _, data, filename = _export(app, owner, f"list:{list_id}")
    # Into client A2, which starts empty: the same addresses and numbers come back.
    target_list = make_list(app, world, "A2")
    other = client_for(app, world, "A2.admin")
    import_id = import_id_from(upload(other, data, filename))
    page = other.get(f"/app/imports/{import_id}/map").get_data(as_text=True)
    assert 'value="phone" selected' in page or 'selected value="phone"' in page
    resp = start(other, import_id, [target_list], col_2="new:text", col_3="new:number")
    assert resp.status_code == 302
    run_jobs(app)
    imp = imp_row(app, world, import_id, key="A2")
    assert imp.status == "done" and imp.invalid_count == 0, imp.message
    assert imp.created_count == len(PAYLOADS)
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A2"]):
        restored = dict(db.session.execute(select(Contact.email, Contact.phone)).all())
        ages = {c.email: c.fields.get("eta") for c in db.session.scalars(select(Contact))}
    assert restored == original
    assert ages["c3@example.com"] == 33


def test_suppression_list_export(app, world):
    ag, cid = world.agency_ids["AG1"], world.client_ids["A1"]
    with app.app_context(), bind_tenant(ag, cid):
        client = db.session.scalar(select(Client).where(Client.id == cid))
        supp.add(
            actor=None,
            client=client,
            channel="email",
            raw_address="gone@example.com",
            reason="unsubscribe",
            source="form",
        )
        supp.add(
            actor=None,
            client=client,
            channel="sms",
            raw_address="+39 347 000 1111",
            reason="manual",
            source="=cmd",
        )
        db.session.commit()
    http = client_for(app, world, "A1.admin")
    _, data, filename = _export(app, http, "suppression")
    assert filename.startswith("suppression-list-")
    rows = _rows(data)
    assert rows[0] == ["channel", "address", "reason", "source", "note", "time (UTC)"]
    by_address = {r[1]: r for r in rows[1:]}
    assert by_address["gone@example.com"][2] == "unsubscribe"
    assert by_address["'+393470001111"][3] == "'=cmd"


def test_segment_export(app, world):
    _seed_list(app, world)
    ag, cid = world.agency_ids["AG1"], world.client_ids["A1"]
    with app.app_context(), bind_tenant(ag, cid):
        seg = Segment(
            agency_id=ag,
            client_id=cid,
            name="Org addresses",
            rules={"match": "all", "conditions": [{"type": "email_domain", "value": "example.org"}]},
        )
        db.session.add(seg)
        db.session.commit()
        seg_id = seg.id
    http = client_for(app, world, "A1.admin")
    assert f'value="segment:{seg_id}"' in http.get("/app/imports").get_data(as_text=True)
    _, data, filename = _export(app, http, f"segment:{seg_id}")
    assert filename.startswith("segment-org-addresses-")
    rows = _rows(data)
    assert rows[0] == ["email", "phone", "Nome", "Età"]
    assert [r[0] for r in rows[1:]] == ["outsider@example.org"]


def test_download_expires_with_410(app, world):
    list_id = _seed_list(app, world)
    http = client_for(app, world, "A1.admin")
    run_id, _, _ = _export(app, http, f"list:{list_id}")
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        run = db.session.scalar(select(JobRun).where(JobRun.id == run_id))
        assert run.expires_at > datetime.now(UTC) + timedelta(days=6)
        run.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
    assert http.get(f"/jobs/{run_id}/result").status_code == 410
    assert "expired" in http.get("/app/imports").get_data(as_text=True)


def test_export_is_a_file_in_storage_and_goes_when_its_link_expires(app, world):
    """Exports stream to a file (never held in memory or in the database) that the periodic cleanup
    removes once the download link has expired."""
    from portal.jobs.results import remove_expired_results, result_path

    list_id = _seed_list(app, world)
    http = client_for(app, world, "A1.admin")
    run_id, data, _ = _export(app, http, f"list:{list_id}")

    def scope():
        return bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"])

    with app.app_context(), scope():
        run = db.session.scalar(select(JobRun).where(JobRun.id == run_id))
        path = result_path(run)
        assert path is not None and path.read_bytes() == data
        assert remove_expired_results() == 0  # not expired yet: kept
        run.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
    with app.app_context():
        assert remove_expired_results() == 1
    with app.app_context(), scope():
        assert not path.exists()
        assert db.session.scalar(select(JobRun.result_path).where(JobRun.id == run_id)) is None
    assert http.get(f"/jobs/{run_id}/result").status_code == 410


def test_cleanup_removes_old_files_no_run_points_to(app, world):
    """A worker killed in the middle of an export leaves a partial file that no run points to."""
    import os

    from portal.jobs.results import remove_expired_results, results_dir

    with app.app_context():
        root = results_dir()
        root.mkdir(parents=True, exist_ok=True)
        old, fresh = root / "run-999-deadbeefdeadbeef.csv", root / "run-998-feedfacefeedface.csv"
        old.write_text("email\r\n")
        fresh.write_text("email\r\n")
        month_ago = (datetime.now(UTC) - timedelta(days=30)).timestamp()
        os.utime(old, (month_ago, month_ago))
        assert remove_expired_results() == 1
        assert not old.exists() and fresh.exists()  # a fresh one may be an export under way


def test_other_tenants_cannot_start_or_read_exports(app, world):
    list_id = _seed_list(app, world)
    owner = client_for(app, world, "A1.admin")
    run_id, _, _ = _export(app, owner, f"list:{list_id}")
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        runs_before = db.session.scalar(select(func.count()).select_from(JobRun))
    for key in ("A2.admin", "B1.admin"):
        http = client_for(app, world, key)
        for path in (f"/app/exports/{run_id}", f"/jobs/{run_id}.json", f"/jobs/{run_id}/result"):
            assert http.get(path).status_code == 404, (key, path)
        for source in (f"list:{list_id}", "list:987654", "segment:1", "bogus"):
            resp = http.post("/app/exports", {"source": source}, csrf_path="/app/imports")
            assert resp.status_code == 404, (key, source, resp.status_code)
        assert "Clienti 2024" not in http.get("/app/imports").get_data(as_text=True)
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        assert db.session.scalar(select(func.count()).select_from(JobRun)) == runs_before


def test_viewers_cannot_export(app, world):
    list_id = _seed_list(app, world)
    http = client_for(app, world, "A1.viewer")
    resp = http.post("/app/exports", {"source": f"list:{list_id}"}, csrf_path="/app/imports")
    assert resp.status_code == 403
