"""Contact imports through the real service and job: counts, row errors, idempotence, suppression, cancel."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Contact, ContactImport, JobRun, MailingList, Subscription, Suppression
from portal.services import DomainError
from portal.services import fields as field_svc
from portal.services import imports as svc
from portal.services import suppression as supp
from portal.tenancy import bind_tenant

from .support import run_jobs

CSV = (
    "Email;Nome;Età;Cellulare\r\n"
    "anna@example.com;Anna;34;+39 347 123 4567\r\n"
    "BRUNO@Example.com ;Bruno;x;\r\n"
    "not-an-email;Carlo;40;\r\n"
    "anna@example.com;Anna again;35;\r\n"
    'dario@example.com;"Dario\r\nDue righe";41;0039 347 7654321\r\n'
    "blocked@example.com;Eva;22;\r\n"
    "francesca@münchen.de;Francesca;;\r\n"
)


def _client(app, world, key="A1"):
    ag = world.agency_ids["AG1" if key.startswith("A") else "AG2"]
    return ag, world.client_ids[key]


def _setup(app, world):
    ag, cid = _client(app, world)
    with app.app_context(), bind_tenant(ag, cid):
        client = db.session.scalar(select_client(cid))
        lst = MailingList(agency_id=ag, client_id=cid, name="Newsletter")
        db.session.add(lst)
        field_svc.create_field(actor=None, client=client, label="Nome")
        field_svc.create_field(actor=None, client=client, label="Età", kind="number")
        supp.add(
            actor=None,
            client=client,
            channel="email",
            raw_address="blocked@example.com",
            reason="unsubscribe",
            source="test",
        )
        db.session.commit()
        return ag, cid, lst.id


def select_client(cid):
    from portal.models import Client

    return select(Client).where(Client.id == cid)


def _import(app, ag, cid, list_id, data: bytes, name="contacts.csv", mapping=None, **options):
    with app.app_context(), bind_tenant(ag, cid):
        client = db.session.scalar(select_client(cid))
        imp = svc.create_import(actor=None, client=client, stream=io.BytesIO(data), filename=name)
        fields = field_svc.list_fields()
        chosen = mapping if mapping is not None else svc.suggest_mapping(imp.columns, fields)
        run = svc.start_import(
            actor=None, client=client, imp=imp, mapping=chosen, list_ids=[list_id], **options
        )
        db.session.commit()
        return imp.id, run.id


def _result(app, ag, cid, import_id):
    with app.app_context(), bind_tenant(ag, cid):
        imp = db.session.scalar(select(ContactImport).where(ContactImport.id == import_id))
        db.session.refresh(imp)
        errors = imp.errors_csv.decode("utf-8-sig") if imp.errors_csv else ""
        return (
            imp.status,
            {
                "rows": imp.rows_total,
                "created": imp.created_count,
                "updated": imp.updated_count,
                "unchanged": imp.unchanged_count,
                "invalid": imp.invalid_count,
                "duplicates": imp.duplicate_count,
                "suppressed": imp.suppressed_count,
            },
            errors,
        )


def test_import_counts_errors_and_subscriptions(app, world):
    ag, cid, list_id = _setup(app, world)
    import_id, run_id = _import(app, ag, cid, list_id, CSV.encode("utf-8"))
    run_jobs(app)
    status, counts, errors = _result(app, ag, cid, import_id)
    assert status == "done"
    assert counts == {
        "rows": 7,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "invalid": 2,
        "duplicates": 1,
        "suppressed": 1,
    }
    rows = list(csv.DictReader(io.StringIO(errors)))
    reasons = {int(r["line"]): r["reason"] for r in rows}
    assert reasons[3].startswith("Età:")  # "x" is not a number: line 3, named by its column
    assert reasons[4].startswith("email:")
    assert "suppression" in reasons[8]
    with app.app_context(), bind_tenant(ag, cid):
        emails = set(db.session.scalars(select(Contact.email)))
        assert emails == {"anna@example.com", "dario@example.com", "francesca@münchen.de"}
        dario = db.session.scalar(select(Contact).where(Contact.email == "dario@example.com"))
        assert dario.phone == "+393477654321" and dario.fields["nome"] == "Dario\r\nDue righe"
        anna = db.session.scalar(select(Contact).where(Contact.email == "anna@example.com"))
        assert anna.fields == {"nome": "Anna", "eta": 34} and anna.phone == "+393471234567"
        subs = db.session.scalar(
            select(func.count()).select_from(Subscription).where(Subscription.list_id == list_id)
        )
        assert subs == 3
        assert (
            db.session.scalar(select(MailingList.email_subscribed_count).where(MailingList.id == list_id))
            == 3
        )
        assert db.session.scalar(select(JobRun.state).where(JobRun.id == run_id)) == "done"


def test_second_import_of_the_same_file_changes_nothing(app, world):
    ag, cid, list_id = _setup(app, world)
    _import(app, ag, cid, list_id, CSV.encode("utf-8"))
    run_jobs(app)
    with app.app_context(), bind_tenant(ag, cid):
        before = [
            (c.id, c.email, c.phone, c.fields, c.updated_at)
            for c in db.session.scalars(select(Contact).order_by(Contact.id))
        ]
    second, _ = _import(app, ag, cid, list_id, CSV.encode("utf-8"))
    run_jobs(app)
    status, counts, _ = _result(app, ag, cid, second)
    assert counts["created"] == 0 and counts["updated"] == 0 and counts["unchanged"] == 3
    with app.app_context(), bind_tenant(ag, cid):
        after = [
            (c.id, c.email, c.phone, c.fields, c.updated_at)
            for c in db.session.scalars(select(Contact).order_by(Contact.id))
        ]
    assert before == after


def test_update_merges_and_unsubscribed_stay_unsubscribed(app, world):
    ag, cid, list_id = _setup(app, world)
    _import(app, ag, cid, list_id, b"email,Nome\nanna@example.com,Anna\n")
    run_jobs(app)
    with app.app_context(), bind_tenant(ag, cid):
        sub = db.session.scalar(select(Subscription))
        sub.status = "unsubscribed"
        db.session.commit()
    second, _ = _import(app, ag, cid, list_id, b"email,Nome,Eta\nanna@example.com,Annamaria,\n")
    run_jobs(app)
    _, counts, _ = _result(app, ag, cid, second)
    assert counts["updated"] == 1
    with app.app_context(), bind_tenant(ag, cid):
        anna = db.session.scalar(select(Contact))
        assert anna.fields == {"nome": "Annamaria"}
        assert db.session.scalar(select(Subscription.status)) == "unsubscribed"


@pytest.mark.parametrize(
    "encoding,delimiter",
    [("utf-8", ","), ("utf-8-sig", ";"), ("utf-16", "\t"), ("cp1252", ";"), ("utf-8", "|")],
)
def test_encoding_and_delimiter_matrix(app, world, encoding, delimiter):
    ag, cid, list_id = _setup(app, world)
    body = (
        delimiter.join(["email", "Nome"]) + "\r\n" + delimiter.join(["nicolò@example.com", "Nicolò"]) + "\r\n"
    )
    body += delimiter.join(["zoe@example.com", "Zoë Perù"]) + "\r\n"
    import_id, _ = _import(app, ag, cid, list_id, body.encode(encoding))
    run_jobs(app)
    status, counts, errors = _result(app, ag, cid, import_id)
    assert status == "done" and counts["created"] == 2, errors
    with app.app_context(), bind_tenant(ag, cid):
        names = sorted(c.fields["nome"] for c in db.session.scalars(select(Contact)))
    assert names == ["Nicolò", "Zoë Perù"]


def test_mailup_numeric_header_convention(app, world):
    ag, cid, list_id = _setup(app, world)
    import_id, _ = _import(app, ag, cid, list_id, b"111|1|222|333\nluca@example.com|Luca|39|3471112223\n")
    run_jobs(app)
    _, counts, errors = _result(app, ag, cid, import_id)
    assert counts["created"] == 1, errors
    with app.app_context(), bind_tenant(ag, cid):
        luca = db.session.scalar(select(Contact))
    assert luca.fields == {"nome": "Luca"} and luca.phone == "+393471112223"


def test_zip_with_csv_members_and_odd_entries(app, world):
    ag, cid, list_id = _setup(app, world)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.csv", "email\nuno@example.com\n")
        z.writestr("sub/b.csv", "email\ndue@example.com\n")
        z.writestr("__MACOSX/._a.csv", "junk")
        z.writestr("photo.png", b"\x89PNG....")
    import_id, _ = _import(app, ag, cid, list_id, buf.getvalue(), name="batch.zip")
    run_jobs(app)
    status, counts, _ = _result(app, ag, cid, import_id)
    assert status == "done" and counts["created"] == 2
    # Names escaping the archive refuse it whole: tests/test_import_archives.py.


def test_zip_bomb_is_refused_without_touching_contacts(app, world):
    ag, cid, list_id = _setup(app, world)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.csv", b"email\n" + b"0" * (40 * 1024 * 1024))
    storage = app.config["PORTAL_SETTINGS"].storage_dir
    before = {p for p in storage.rglob("*") if p.is_file()}
    with pytest.raises(DomainError, match="compression ratio"):
        _import(app, ag, cid, list_id, buf.getvalue(), name="bomb.zip", mapping={"0": "email"})
    with app.app_context(), bind_tenant(ag, cid):
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 0
        assert db.session.scalar(select(func.count()).select_from(ContactImport)) == 0
    after = {p for p in storage.rglob("*") if p.is_file()}
    assert after == before  # neither the upload nor unpacked bytes stay on disk


def test_cancel_rolls_everything_back(app, world):
    ag, cid, list_id = _setup(app, world)
    import_id, _ = _import(app, ag, cid, list_id, b"email\nsolo@example.com\n")
    with app.app_context(), bind_tenant(ag, cid):
        from portal.jobs.queueing import redis_connection

        # The cancel flag a running import checks between batches (cancel_import sets it too).
        redis_connection().set(svc._cancel_key(import_id), "1")
    run_jobs(app)
    status, _, _ = _result(app, ag, cid, import_id)
    assert status == "cancelled"
    with app.app_context(), bind_tenant(ag, cid):
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 0


def test_empty_file_and_binary_files_get_clear_errors(app, world):
    ag, cid, _ = _setup(app, world)
    with app.app_context(), bind_tenant(ag, cid):
        client = db.session.scalar(select_client(cid))
        with pytest.raises(DomainError, match="empty"):
            svc.create_import(actor=None, client=client, stream=io.BytesIO(b""), filename="x.csv")
        with pytest.raises(DomainError, match="not a CSV"):
            svc.create_import(
                actor=None, client=client, stream=io.BytesIO(b"\x89PNG\r\n\x1a\n...."), filename="x.csv"
            )


def test_concurrent_import_limit(app, world):
    ag, cid, list_id = _setup(app, world)
    _import(app, ag, cid, list_id, b"email\na@example.com\n")
    _import(app, ag, cid, list_id, b"email\nb@example.com\n")
    with pytest.raises(DomainError, match="already running"):
        _import(app, ag, cid, list_id, b"email\nc@example.com\n")


def test_suppression_entries_of_the_agency_and_platform_apply(app, world):
    ag, cid, list_id = _setup(app, world)
    with app.app_context():
        from portal.models import User
        from portal.tenancy import all_tenants

        with all_tenants():
            admin = db.session.scalar(select(User).where(User.agency_id.is_(None)))
        supp.add_blocked(
            actor=admin, agency_id=ag, channel="email", address="agency-block@example.com", reason="manual"
        )
        supp.add_blocked(
            actor=admin, agency_id=None, channel="email", address="legal@example.com", reason="manual"
        )
        db.session.commit()
    import_id, _ = _import(
        app, ag, cid, list_id, b"email\nagency-block@example.com\nlegal@example.com\nok@example.com\n"
    )
    run_jobs(app)
    _, counts, _ = _result(app, ag, cid, import_id)
    assert counts["created"] == 1 and counts["suppressed"] == 2
    with app.app_context(), bind_tenant(ag, cid):
        client = db.session.scalar(select_client(cid))
        assert not supp.may_send(client, "email", "legal@example.com")
        assert supp.may_send(client, "email", "ok@example.com", list_id)
        assert db.session.scalar(select(func.count()).select_from(Suppression)) == 1


CHUNKED = (
    "email,Nome,Cellulare\n"
    "anna@example.com,Anna,+39 347 123 4567\n"  # 2: takes the number
    "bruno@example.com,Bruno,\n"  # 3
    ",Solo numero,+39 347 123 4567\n"  # 4: phone-only, the number is Anna's: a duplicate
    "carla@example.com,Carla,+39 347 123 4567\n"  # 5: imports without the number
    "blocked@example.com,Eva,\n"  # 6: suppressed
    "ANNA@example.com,Anna due,\n"  # 7: Anna again
    ",Dino,+39 347 999 8888\n"  # 8: a phone-only contact
    "dario@example.com,Dario,\n"  # 9
)


@pytest.mark.parametrize("chunk_rows", [1, 2, 100_000])
def test_chunks_settle_numbers_duplicates_and_suppression_like_one_pass(app, world, monkeypatch, chunk_rows):
    """The writer applies the file chunk by chunk; where the chunks fall must not change the outcome."""
    from portal.imports import engine

    monkeypatch.setattr(engine, "BATCH", 1)
    monkeypatch.setattr(engine, "CHUNK_ROWS", chunk_rows)
    ag, cid, list_id = _setup(app, world)
    with app.app_context(), bind_tenant(ag, cid):
        client = db.session.scalar(select_client(cid))
        field_svc.create_field(
            actor=None, client=client, label="Cellulare"
        )  # a text field, mapped to phone below
        db.session.commit()
    mapping = {"0": "email", "1": "field:nome", "2": "phone"}
    import_id, _ = _import(app, ag, cid, list_id, CHUNKED.encode(), mapping=mapping)
    run_jobs(app)
    status, counts, errors = _result(app, ag, cid, import_id)
    assert status == "done", errors
    assert counts == {
        "rows": 8,
        "created": 5,
        "updated": 0,
        "unchanged": 0,
        "invalid": 0,
        "duplicates": 2,
        "suppressed": 1,
    }
    reasons = {int(r["line"]): (r["column"], r["reason"]) for r in csv.DictReader(io.StringIO(errors))}
    assert reasons[5] == ("Cellulare", "phone: already belongs to another contact; imported without it")
    assert "suppression" in reasons[6][1]
    with app.app_context(), bind_tenant(ag, cid):
        stored = {(c.email, c.phone, c.fields.get("nome")) for c in db.session.scalars(select(Contact))}
        subscribed = db.session.scalar(
            select(MailingList.email_subscribed_count).where(MailingList.id == list_id)
        )
    assert stored == {
        ("anna@example.com", "+393471234567", "Anna"),
        ("bruno@example.com", None, "Bruno"),
        ("carla@example.com", None, "Carla"),
        (None, "+393479998888", "Dino"),
        ("dario@example.com", None, "Dario"),
    }
    assert subscribed == 4  # the list sends email: the phone-only contact is not on it


def test_a_failing_writer_surfaces_its_error_and_stores_nothing(app, world):
    """A database error on the writer thread reaches the caller, who rolls the whole import back."""
    from portal.imports.engine import Options
    from portal.imports.stage import Stage, StageWriter

    ag, cid, list_id = _setup(app, world)
    with app.app_context(), bind_tenant(ag, cid):
        conn = db.session.connection()
        writer = StageWriter(
            Stage(conn, agency_id=ag, client_id=cid, options=Options(list_ids=(list_id,))), 1
        )
        writer.start()
        writer.put([(2, "first@example.com", None, "{}")])
        with pytest.raises(Exception, match="(?i)not null|invalid input"):
            writer.put([(None, "second@example.com", None, "{}")])  # line is NOT NULL in the stage
            writer.close()
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 0


def test_backslashes_tabs_and_line_breaks_in_values_arrive_intact(app, world):
    """The stage is loaded as COPY text on PostgreSQL and as a JSON array on SQLite: escaping must hold."""
    ag, cid, list_id = _setup(app, world)
    nasty = 'C:\\temp\\new\t"quoted"\r\nline two \\N'
    body = "email,Nome\r\n" + 'zed@example.com,"' + nasty.replace('"', '""') + '"\r\n'
    import_id, _ = _import(app, ag, cid, list_id, body.encode())
    run_jobs(app)
    status, counts, errors = _result(app, ag, cid, import_id)
    assert status == "done" and counts["created"] == 1, errors
    with app.app_context(), bind_tenant(ag, cid):
        assert db.session.scalar(select(Contact)).fields == {"nome": nasty}


def test_a_list_deleted_while_an_import_runs_keeps_no_subscriptions(app, world):
    """Subscriptions carry no foreign key to their list (imports/stage.py): an import whose target list
    disappears meanwhile must not leave subscriptions of a list that no longer exists."""
    from sqlalchemy import text

    from portal.imports.engine import Options
    from portal.imports.stage import Stage, StageWriter

    ag, cid, list_id = _setup(app, world)
    with app.app_context(), bind_tenant(ag, cid):
        conn = db.session.connection()
        writer = StageWriter(
            Stage(conn, agency_id=ag, client_id=cid, options=Options(list_ids=(list_id,))), 10
        )
        conn.execute(text("DELETE FROM mailing_list WHERE id = :id"), {"id": list_id})  # the list goes away
        writer.start()
        writer.put([(2, "first@example.com", None, "{}"), (3, "second@example.com", None, "{}")])
        tally = writer.close()
        db.session.commit()
        assert tally.created == 2
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 2
        assert db.session.scalar(select(func.count()).select_from(Subscription)) == 0
