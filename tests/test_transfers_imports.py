"""The imports UI: upload (CSV, ZIP, paste) → mapping → job → result page, error report, cancel, limits,
CSV robustness through the web, and isolation of import ids between tenants."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Client, Contact, ContactImport, Field, JobRun, MailingList, Subscription
from portal.tenancy import bind_tenant

from .support import client_for, run_jobs

GOOD_AND_BAD = (
    "Email;Nome;Età;Cellulare\r\n"
    "anna@example.com;Anna;34;+39 347 123 4567\r\n"
    "bruno@example.com;Bruno;x;\r\n"
    "not-an-email;Carlo;40;\r\n"
    "anna@example.com;Anna again;35;\r\n"
    "dario@example.com;Dario;41;\r\n"
)


def make_list(app, world, key="A1", name="Newsletter") -> int:
    ag = world.agency_ids["AG1" if key.startswith("A") else "AG2"]
    cid = world.client_ids[key]
    with app.app_context(), bind_tenant(ag, cid):
        lst = MailingList(agency_id=ag, client_id=cid, name=name)
        db.session.add(lst)
        db.session.commit()
        return lst.id


def upload(http, data: bytes, name="contacts.csv", source="csv"):
    token = http.csrf("/app/imports/new")
    return http.http.post(
        f"http://{http.host}/app/imports/new?source={source}",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def import_id_from(resp) -> int:
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    m = re.search(r"/app/imports/(\d+)/map$", resp.location)
    assert m, resp.location
    return int(m.group(1))


def mapping_fields(html: str) -> dict[str, str]:
    """Selected value of each col_N select on the mapping page."""
    out = {}
    for name, body in re.findall(r'<select[^>]*name="(col_\d+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', body)
        out[name] = next((g for g in chosen.groups() if g is not None), "") if chosen else ""
    return out


def start(http, import_id: int, list_ids, extra=None, **overrides):
    page = http.get(f"/app/imports/{import_id}/map")
    assert page.status_code == 200
    data = mapping_fields(page.get_data(as_text=True))
    data.update(overrides)
    data["lists"] = [str(i) for i in list_ids]
    data.update({"update_existing": "y", "status": "subscribed", "blanks": "keep", **(extra or {})})
    return http.post(f"/app/imports/{import_id}/map", data)


def imp_row(app, world, import_id, key="A1") -> ContactImport:
    ag, cid = world.agency_ids["AG1"], world.client_ids[key]
    with app.app_context(), bind_tenant(ag, cid):
        imp = db.session.scalar(select(ContactImport).where(ContactImport.id == import_id))
        db.session.expunge(imp)
        return imp


def test_upload_map_start_run_shows_counts_and_error_report(app, world):
    list_id = make_list(app, world)
    http = client_for(app, world, "A1.admin")
    assert "No imports yet" in http.get("/app/imports").get_data(as_text=True)
    import_id = import_id_from(upload(http, GOOD_AND_BAD.encode("cp1252")))
    page = http.get(f"/app/imports/{import_id}/map").get_data(as_text=True)
    assert "anna@example.com" in page and "semicolon" in page and "CP1252" in page
    assert "mailup" not in page.lower()
    chosen = mapping_fields(page)
    assert chosen["col_0"] == "email" and chosen["col_3"] == "phone"
    resp = start(http, import_id, [list_id], col_1="new:text", col_2="new:number")
    assert resp.status_code == 302 and resp.location.endswith(f"/app/imports/{import_id}")
    queued = http.get(f"/app/imports/{import_id}").get_data(as_text=True)
    assert 'data-progress-url="/jobs/' in queued and "Cancel the import" in queued
    run_jobs(app)
    done = http.get(f"/app/imports/{import_id}").get_data(as_text=True)
    counts = dict(re.findall(r'data-testid="count-(\w+)">\s*<div class="value">([\d,.]+)</div>', done))
    assert counts == {
        "created": "2",
        "updated": "0",
        "unchanged": "0",
        "invalid": "2",
        "duplicates": "1",
        "suppressed": "0",
    }
    assert "data-progress-url" not in done
    history = http.get("/app/imports").get_data(as_text=True)
    assert "contacts.csv" in history and "A1 admin" in history
    report = http.get(f"/app/imports/{import_id}/errors.csv")
    assert report.status_code == 200
    assert report.headers["Content-Disposition"] == f'attachment; filename="import-{import_id}-errors.csv"'
    rows = list(csv.DictReader(io.StringIO(report.get_data().decode("utf-8-sig"))))
    assert {int(r["line"]) for r in rows} == {3, 4}
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        assert set(db.session.scalars(select(Field.key))) == {"nome", "eta"}
        anna = db.session.scalar(select(Contact).where(Contact.email == "anna@example.com"))
        assert anna.fields == {"nome": "Anna", "eta": 34}
        sub = db.session.scalar(select(Subscription).where(Subscription.contact_id == anna.id))
        assert sub.consent_source == "import" and sub.consent_ip == "127.0.0.1"


def test_zip_and_paste_sources(app, world):
    list_id = make_list(app, world)
    http = client_for(app, world, "A1.editor")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.csv", "email\nzip1@example.com\n")
        zf.writestr("b.csv", "email\nzip2@example.com\n")
        zf.writestr("readme.pdf", "%PDF-1.4")
    import_id = import_id_from(upload(http, buf.getvalue(), "contacts.zip", source="zip"))
    page = http.get(f"/app/imports/{import_id}/map").get_data(as_text=True)
    assert "readme.pdf" in page  # the note about the skipped member
    assert start(http, import_id, [list_id]).status_code == 302
    resp = http.post(
        "/app/imports/new?source=paste", {"text": "email\npaste@example.com\n"}, csrf_path="/app/imports/new"
    )
    pasted = import_id_from(resp)
    assert start(http, pasted, [list_id]).status_code == 302
    run_jobs(app)
    assert imp_row(app, world, import_id).created_count == 2
    assert imp_row(app, world, pasted).created_count == 1
    assert "readme.pdf" in http.get(f"/app/imports/{import_id}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n" + b"0" * 100, "not a CSV"),
        (b"PK\x03\x04broken", "ZIP"),
    ],
)
def test_bad_files_are_refused_with_a_form_error(app, world, data, reason):
    http = client_for(app, world, "A1.admin")
    resp = upload(http, data, "bad-file.csv")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert 'role="alert"' in page and reason in page
    if data:
        assert "bad-file.csv" in page
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        assert db.session.scalar(select(ContactImport.id)) is None


ROBUST = {
    "utf16": ("email,nome\r\nzoë@example.com,Zoë\r\nbad,Bad\r\n".encode("utf-16"), 1, 1),
    "cp1252": ("email;nome\r\nrené@example.com;René\r\n".encode("cp1252"), 1, 0),
    "quoted-newlines": (b'email,nome\r\na@example.com,"two\r\nlines"\r\nb@example.com,x\r\n', 2, 0),
    "blank-lines": (b"email,nome\r\n\r\na@example.com,A\r\n\r\n\r\nb@example.com,B\r\n", 2, 0),
    "wide-row": (
        b"email,nome\r\na@example.com,A\r\n" + b",".join([b"x"] * 5000) + b"\r\nb@example.com,B\r\n",
        2,
        1,
    ),
    "unbalanced-quotes": (b'email,nome\r\na@example.com,"open\r\nb@example.com,B\r\n', 1, 0),
}


@pytest.mark.parametrize("case", sorted(ROBUST))
def test_csv_robustness_through_the_web(app, world, case):
    data, created_min, invalid_min = ROBUST[case]
    list_id = make_list(app, world)
    http = client_for(app, world, "A1.admin")
    import_id = import_id_from(upload(http, data, f"{case}.csv"))
    assert http.get(f"/app/imports/{import_id}/map").status_code == 200
    resp = start(http, import_id, [list_id], col_0="email", col_1="new:text")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    run_jobs(app)
    imp = imp_row(app, world, import_id)
    assert imp.status == "done", imp.message
    assert imp.created_count >= created_min and imp.invalid_count >= invalid_min
    assert http.get(f"/app/imports/{import_id}").status_code == 200
    if imp.invalid_count:
        report = http.get(f"/app/imports/{import_id}/errors.csv").get_data().decode("utf-8-sig")
        assert all(r["line"].isdigit() for r in csv.DictReader(io.StringIO(report)))


def test_oversized_upload_answers_413_with_the_branded_page(app, world):
    http = client_for(app, world, "A1.admin")
    page = http.get("/app/imports/new").get_data(as_text=True)
    assert "Files up to 100 MB" in page
    token = http.csrf("/app/imports/new")
    old = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    try:
        resp = http.http.post(
            f"http://{http.host}/app/imports/new?source=csv",
            data={
                "csrf_token": token,
                "file": (io.BytesIO(b"email\n" + b"a@example.com\n" * 2000), "big.csv"),
            },
            content_type="multipart/form-data",
        )
    finally:
        app.config["MAX_CONTENT_LENGTH"] = old
    assert resp.status_code == 413
    assert "The file is too large." in resp.get_data(as_text=True)


def test_mapping_errors_are_shown_and_nothing_starts(app, world):
    list_id = make_list(app, world)
    http = client_for(app, world, "A1.admin")
    import_id = import_id_from(upload(http, b"email,name\na@example.com,A\n"))
    resp = start(http, import_id, [list_id], col_0="")  # nothing mapped to an address
    assert resp.status_code == 200
    assert "Map one column to the email address" in resp.get_data(as_text=True)
    resp = start(http, import_id, [])  # no list
    assert "Choose at least one list." in resp.get_data(as_text=True)
    resp = start(http, import_id, [list_id], col_1="field:evil")  # not one of the choices
    assert resp.status_code == 200
    assert imp_row(app, world, import_id).status == "uploaded"


def test_cancel_a_queued_import(app, world):
    list_id = make_list(app, world)
    http = client_for(app, world, "A1.admin")
    import_id = import_id_from(upload(http, b"email\na@example.com\n"))
    start(http, import_id, [list_id])
    resp = http.post(f"/app/imports/{import_id}/cancel", csrf_path=f"/app/imports/{import_id}")
    assert resp.status_code == 302
    assert imp_row(app, world, import_id).status == "cancelled"
    run_jobs(app)
    page = http.get(f"/app/imports/{import_id}").get_data(as_text=True)
    assert "cancelled" in page and "data-progress-url" not in page
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        assert db.session.scalar(select(Contact.id)) is None
        assert db.session.scalar(select(JobRun.state)) == "cancelled"


def test_viewer_reads_but_cannot_import(app, world):
    http = client_for(app, world, "A1.viewer")
    assert http.get("/app/imports").status_code == 200
    assert "New import" not in http.get("/app/imports").get_data(as_text=True)
    assert http.get("/app/imports/new").status_code == 403


def test_other_tenants_get_404_on_imports_and_error_reports(app, world):
    list_id = make_list(app, world)
    owner = client_for(app, world, "A1.admin")
    import_id = import_id_from(upload(owner, GOOD_AND_BAD.encode()))
    start(owner, import_id, [list_id])
    run_jobs(app)
    run_id = imp_row(app, world, import_id).job_run_id
    assert owner.get(f"/app/imports/{import_id}/errors.csv").status_code == 200
    for key in ("A2.admin", "B1.admin"):
        http = client_for(app, world, key)
        for path in (
            f"/app/imports/{import_id}",
            f"/app/imports/{import_id}/map",
            f"/app/imports/{import_id}/errors.csv",
            f"/jobs/{run_id}.json",
        ):
            assert http.get(path).status_code == 404, (key, path)
        resp = http.post(f"/app/imports/{import_id}/cancel", csrf_path="/app/imports")
        assert resp.status_code == 404
        assert import_id and "contacts.csv" not in http.get("/app/imports").get_data(as_text=True)
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        assert db.session.scalar(select(Client.id).where(Client.id == world.client_ids["A1"]))
