"""Batch sources against real FTP, FTPS and SFTP servers started here: CSV and ZIP-of-CSV files with a
manifest, the FTP-ZIP package (save and send), a bad package that changes nothing, a re-run of a processed
file, a server that drops the connection mid-download, the pages and their tenant isolation."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime

import pytest
from redis import Redis
from sqlalchemy import func, select

from portal.batch import sources as svc
from portal.batch.schedule import queue_due_runs
from portal.extensions import db
from portal.jobs.ticker import tick
from portal.models import BatchFile, BatchRun, BatchSource, Campaign, Client, Contact, Delivery, MailingList
from portal.models.batch import FILE_DONE, FILE_FAILED, FILE_RETRY, FILE_SKIPPED, RUN_DONE, RUN_FAILED
from portal.services import DomainError, senders
from portal.services import fields as field_svc
from portal.tenancy import bind_tenant

from .batch_servers import PASSWORD, USER, FtpServer, SftpServer, self_signed_cert
from .sending_support import fake_dns
from .support import client_for, run_jobs


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


PNG = _png()


@pytest.fixture
def roots(tmp_path):
    root = tmp_path / "server"
    root.mkdir()
    return root


def _setup(app, world, *, verified: bool = True) -> dict:
    ag, cid = world.agency_ids["AG1"], world.client_ids["A1"]
    with app.app_context(), bind_tenant(ag, cid):
        client = db.session.scalar(select(Client).where(Client.id == cid))
        field_svc.create_field(actor=None, client=client, label="First name")  # field number 1
        lst = MailingList(agency_id=ag, client_id=cid, name="Customers")
        db.session.add(lst)
        domain = senders.add_domain(actor=None, client=client, domain="shop-a1.example.com")
        if verified:
            senders.check_domain(actor=None, d=domain, resolver=fake_dns(domain))
        senders.add_identity(actor=None, client=client, name="Shop", email="news@shop-a1.example.com")
        db.session.commit()
        return {"ag": ag, "cid": cid, "list_id": lst.id}


def _source(app, ids, protocol, port, *, server_key="", allow_send=False, list_id=None, notify=False) -> int:
    with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
        client = db.session.scalar(select(Client).where(Client.id == ids["cid"]))
        values = svc.SourceValues(
            name=f"Nightly {protocol}",
            protocol=protocol,
            host="127.0.0.1",
            port=port,
            username=USER,
            password=PASSWORD,
            remote_dir="/",
            list_id=list_id or ids["list_id"],
            allow_send=allow_send,
            server_key=server_key,
            notify_admins=notify,
        )
        source = svc.save_source(actor=None, client=client, source=None, values=values)
        db.session.commit()
        return source.id


def _run(app, ids, source_id) -> int:
    """Start a run as "Run now" does, then let a real RQ worker run every job it queued."""
    with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
        client = db.session.scalar(select(Client).where(Client.id == ids["cid"]))
        source = svc.get_source(source_id)
        run = svc.start_run(actor=None, client=client, source=source)
        db.session.commit()
        run_id = run.id
    run_jobs(app)
    return run_id


def _files(app, ids, run_id) -> list[BatchFile]:
    with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
        rows = list(
            db.session.scalars(select(BatchFile).where(BatchFile.run_id == run_id).order_by(BatchFile.id))
        )
        for r in rows:
            db.session.expunge(r)
        return rows


def _contacts(app, ids) -> dict[str, dict]:
    with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
        return {c.email: c.fields for c in db.session.scalars(select(Contact))}


def _zip(members: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _settings(action: str, *, sender="news@shop-a1.example.com", subject="Spring offers", extra="") -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<FtpZip>
  <Header><ActionType>{action}</ActionType><CampaignCode>SPRING26</CampaignCode><FormatVersion>0.1</FormatVersion></Header>
  <Content><ListId/><ListGUID/><SenderName>Shop</SenderName><SenderEmail>{sender}</SenderEmail>
    <ReplyToEmail/><EmailSubject>{subject}</EmailSubject><Notes/></Content>
  <AdvancedSettings><Separator>;</Separator><SendType>massive</SendType>{extra}</AdvancedSettings>
</FtpZip>"""


MARKUP = '<html><body><img src="logo.png" alt="logo.png"><p>Hello {{ first_name }}</p></body></html>'
RECIPIENTS = "111;1\r\nanna@example.com;Anna\r\nbruno@example.com;Bruno\r\n"


# --- FTP: CSV, ZIP of CSVs with a manifest, re-run ----------------------------------------------------


def test_ftp_csv_and_zip_with_manifest_then_a_rerun_skips_the_processed_file(app, world, roots, outbox):
    ids = _setup(app, world)
    with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
        other = MailingList(agency_id=ids["ag"], client_id=ids["cid"], name="Shop buyers")
        db.session.add(other)
        db.session.commit()
        other_id = other.id
    (roots / "contacts.csv").write_text("Email;First name\r\nanna@example.com;Anna\r\nnot-an-email;X\r\n")
    (roots / "bundle.zip").write_bytes(
        _zip(
            {
                "manifest.json": '{"list": "Shop buyers", "columns": {"Mail": "email", "Nome": "First name"}}',
                "a.csv": "Mail,Nome\r\ncarla@example.com,Carla\r\n",
                "b.csv": "Mail,Nome\r\ndario@example.com,Dario\r\n",
            }
        )
    )
    (roots / "upload.csv.part").write_text("still being written")
    with FtpServer(roots) as server:
        source_id = _source(app, ids, "ftp", server.port, notify=True)
        run_id = _run(app, ids, source_id)
        files = {f.name: f for f in _files(app, ids, run_id)}
        [summary] = outbox.to("admin@a1.test")  # the admins asked for a summary; editors get none
        assert "2 files processed, 0 failed" in summary["Subject"] and not outbox.to("editor@a1.test")
        assert f"/app/batch/runs/{run_id}" in summary.get_body(("plain",)).get_content()
        assert "MailUp" not in summary.as_string()
        assert set(files) == {"bundle.zip", "contacts.csv"}  # the .part upload is left alone
        assert (
            files["contacts.csv"].status == FILE_DONE
            and files["contacts.csv"].moved_to == "processed/contacts.csv"
        )
        assert files["bundle.zip"].status == FILE_DONE and files["bundle.zip"].kind == "zip"
        contacts = _contacts(app, ids)
        assert set(contacts) == {"anna@example.com", "carla@example.com", "dario@example.com"}
        assert contacts["carla@example.com"] == {"first_name": "Carla"}
        with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
            assert db.session.get(MailingList, other_id).email_subscribed_count == 2
            imp_id = files["contacts.csv"].import_id
            run = db.session.get(BatchRun, run_id)
            assert run.state == RUN_DONE and run.files_done == 2
        assert (roots / "processed" / "bundle.zip").exists() and not (roots / "contacts.csv").exists()
        assert (roots / "upload.csv.part").exists()

        http = client_for(app, world, "A1.admin")
        page = http.get(f"/app/batch/runs/{run_id}").get_data(as_text=True)
        assert f"/app/imports/{imp_id}/errors.csv" in page  # the row-level report of the invalid row
        assert http.get(f"/app/imports/{imp_id}/errors.csv").status_code == 200

        # The same file dropped again (same name, same content) is not imported a second time.
        (roots / "contacts.csv").write_bytes((roots / "processed" / "contacts.csv").read_bytes())
        again = _run(app, ids, source_id)
        [row] = _files(app, ids, again)
        assert row.status == FILE_SKIPPED and "Already processed" in row.message
        assert row.moved_to.startswith("processed/contacts-")  # kept beside the first copy, not over it
        with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
            assert (
                db.session.scalar(
                    select(func.count()).select_from(BatchFile).where(BatchFile.import_id.isnot(None))
                )
                == 2
            )


# --- SFTP: host-key pinning through the pages, then an FTP-ZIP package that sends ------------------------


def test_sftp_key_pinning_and_an_ftpzip_send_package(app, world, roots, outbox):
    ids = _setup(app, world)
    with SftpServer(roots) as server:
        source_id = _source(app, ids, "sftp", server.port, allow_send=True)
        http = client_for(app, world, "A1.admin")
        page = http.post(f"/app/batch/{source_id}/run", csrf_path=f"/app/batch/{source_id}")
        assert page.status_code == 302  # refused: no key pinned yet
        assert "confirm the server" in http.get(f"/app/batch/{source_id}").get_data(as_text=True)
        probe = http.post(f"/app/batch/{source_id}/test", csrf_path=f"/app/batch/{source_id}").get_data(
            as_text=True
        )
        assert "SHA256:" in probe and "Pin this key" in probe
        key = (
            re.search(r'name="key" type="hidden" value="([^"]+)"', probe)
            or re.search(r'type="hidden" name="key" value="([^"]+)"', probe)
            or re.search(r'id="key" name="key" type="hidden" value="([^"]+)"', probe)
        )
        assert key and key.group(1) == server.key_line
        assert (
            http.post(
                f"/app/batch/{source_id}/pin", {"key": key.group(1)}, csrf_path=f"/app/batch/{source_id}"
            ).status_code
            == 302
        )

        (roots / "spring.zip").write_bytes(
            _zip(
                {
                    "Settings.xml": _settings("send"),
                    "Recipients.csv": RECIPIENTS,
                    "Markup.htm": MARKUP,
                    "logo.png": PNG,
                }
            )
        )
        resp = http.post(f"/app/batch/{source_id}/run", csrf_path=f"/app/batch/{source_id}")
        assert resp.status_code == 302 and "/app/batch/runs/" in resp.location
        run_id = int(resp.location.rsplit("/", 1)[1])
        run_jobs(app)
        [row] = _files(app, ids, run_id)
        assert row.status == FILE_DONE, (row.message, row.problems)
        assert row.kind == "package" and row.action == "send" and row.moved_to == "processed/spring.zip"
        assert set(_contacts(app, ids)) == {"anna@example.com", "bruno@example.com"}
        with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
            campaign = db.session.get(Campaign, row.campaign_id)
            assert campaign.subject == "Spring offers" and campaign.name == "SPRING26"
            assert 'src="https://ag1.portal.test/img/' in campaign.html  # the image, from the library
            assert 'src="logo.png"' not in campaign.html and 'alt="logo.png"' in campaign.html
            assert campaign.status in ("sending", "sent")
            assert (
                db.session.scalar(
                    select(func.count()).select_from(Delivery).where(Delivery.campaign_id == campaign.id)
                )
                == 2
            )
        assert outbox.to("anna@example.com")  # really sent through the relay
        assert (roots / "processed" / "spring.zip").exists()
        page = http.get(f"/app/batch/runs/{run_id}").get_data(as_text=True)
        assert "SPRING26" in page and "MailUp" not in page


def test_ftpzip_save_makes_a_draft_and_a_wrong_host_key_is_refused(app, world, roots):
    ids = _setup(app, world)
    with SftpServer(roots) as server:
        source_id = _source(app, ids, "sftp", server.port, server_key=server.key_line)
        (roots / "draft.zip").write_bytes(
            _zip({"Settings.xml": _settings("save"), "Markup.htm": "<p>Hi</p>"})
        )
        [row] = _files(app, ids, _run(app, ids, source_id))
        assert row.status == FILE_DONE and "draft" in row.message
        with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
            assert db.session.get(Campaign, row.campaign_id).status == "draft"
            source = db.session.get(BatchSource, source_id)
            source.options = {**source.options, "allow_send": True}
            db.session.commit()
        # send: "an already defined message" — a copy of that campaign goes out; the draft stays a draft.
        override = (
            "<ContentOverride><MessageId>%d</MessageId><CloneMessage>true</CloneMessage></ContentOverride>"
        )
        (roots / "resend.zip").write_bytes(
            _zip(
                {
                    "Settings.xml": _settings("send", subject="", extra=override % row.campaign_id),
                    "Recipients.csv": RECIPIENTS,
                }
            )
        )
        [sent] = _files(app, ids, _run(app, ids, source_id))
        assert sent.status == FILE_DONE and sent.campaign_id != row.campaign_id, (sent.message, sent.problems)
        with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
            copy = db.session.get(Campaign, sent.campaign_id)
            assert (
                copy.status in ("sending", "sent") and copy.subject == "Spring offers" and "Hi" in copy.html
            )
            assert db.session.get(Campaign, row.campaign_id).status == "draft"
            source = db.session.get(BatchSource, source_id)
            source.server_key = (
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
            )
            db.session.commit()
        (roots / "other.csv").write_text("email\r\nx@example.com\r\n")
        run_id = _run(app, ids, source_id)
        with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
            run = db.session.get(BatchRun, run_id)
            assert run.state == RUN_FAILED and "not the one pinned" in run.message
        assert (roots / "other.csv").exists()


# --- bad packages change nothing --------------------------------------------------------------------


def test_bad_package_is_reported_whole_and_changes_nothing(app, world, roots):
    ids = _setup(app, world)
    bad = _zip(
        {
            "Settings.xml": _settings("publish", sender="").replace(
                "<Separator>;</Separator>", "<Separator>|</Separator>"
            ),
            "Recipients.csv": "111;77\r\nanna@example.com;x\r\n",
            "Markup.htm": '<img src="missing.png"><p>Hi</p>',
        }
    )
    (roots / "bad.zip").write_bytes(bad)
    (roots / "broken.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    with FtpServer(roots) as server:
        source_id = _source(app, ids, "ftp", server.port, allow_send=True)
        files = {f.name: f for f in _files(app, ids, _run(app, ids, source_id))}
    whats = " | ".join(f"{p['where']}: {p['what']}" for p in files["bad.zip"].problems)
    assert files["bad.zip"].status == FILE_FAILED and files["bad.zip"].moved_to == "failed/bad.zip"
    assert "Header/ActionType: 'publish' is not save, full or send" in whats
    assert "bad.zip/Recipients.csv, column 2: '77' is not a field id" in whats
    assert "Settings.xml names the separator '|' but the file uses ';'" in whats
    assert (
        files["broken.zip"].status == FILE_FAILED and "damaged ZIP" in files["broken.zip"].problems[0]["what"]
    )
    assert _contacts(app, ids) == {}
    with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
        assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0
    assert (roots / "failed" / "broken.zip").exists()


def test_send_with_an_unverified_sender_fails_before_any_import(app, world, roots):
    ids = _setup(app, world, verified=False)
    (roots / "p.zip").write_bytes(
        _zip({"Settings.xml": _settings("full"), "Recipients.csv": RECIPIENTS, "Markup.htm": "<p>Hi</p>"})
    )
    with FtpServer(roots) as server:
        source_id = _source(app, ids, "ftp", server.port, allow_send=True)
        [row] = _files(app, ids, _run(app, ids, source_id))
    assert row.status == FILE_FAILED
    assert any("not verified" in p["what"] for p in row.problems), row.problems
    assert _contacts(app, ids) == {} and row.import_id is None


# --- a server that drops the connection mid-download -------------------------------------------------


@pytest.mark.parametrize("protocol", ["ftp", "sftp"])
def test_connection_dropped_mid_download_imports_nothing_and_leaves_the_file(app, world, roots, protocol):
    ids = _setup(app, world)
    rows = "".join(f"person{i}@example.com;P{i}\r\n" for i in range(400))
    (roots / "drop-orders.csv").write_text("111;1\r\n" + rows)
    server = SftpServer(roots) if protocol == "sftp" else FtpServer(roots)
    with server:
        key = server.key_line if protocol == "sftp" else ""
        source_id = _source(app, ids, protocol, server.port, server_key=key)
        run_id = _run(app, ids, source_id)
    [row] = _files(app, ids, run_id)
    assert row.status == FILE_RETRY and row.moved_to == "" and row.import_id is None
    assert "connection ended while drop-orders.csv was being downloaded" in row.message
    with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
        run = db.session.get(BatchRun, run_id)
        assert run.state == RUN_FAILED and "stays on the server" in run.message
    assert _contacts(app, ids) == {}
    assert (roots / "drop-orders.csv").exists()


def test_ftps_with_a_pinned_self_signed_certificate(app, world, roots, tmp_path):
    ids = _setup(app, world)
    (roots / "c.csv").write_text("email\r\nzoe@example.com\r\n")
    cert, digest = self_signed_cert(tmp_path)
    with FtpServer(roots, tls_cert=cert) as server:
        source_id = _source(app, ids, "ftps", server.port)
        # Not pinned: a run refuses the self-signed certificate (normal verification) …
        failed = _run(app, ids, source_id)
        with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
            assert "TLS handshake" in db.session.get(BatchRun, failed).message
        # … and the connection test shows its digest, without signing in, for the admin to pin.
        http = client_for(app, world, "A1.admin")
        probe = http.post(f"/app/batch/{source_id}/test", csrf_path=f"/app/batch/{source_id}")
        probe = probe.get_data(as_text=True)
        assert "cannot be verified" in probe and digest in probe and "Connected and signed in" not in probe
        pin = http.post(f"/app/batch/{source_id}/pin", {"key": digest}, csrf_path=f"/app/batch/{source_id}")
        assert pin.status_code == 302
        [row] = _files(app, ids, _run(app, ids, source_id))
    assert row.status == FILE_DONE and "zoe@example.com" in _contacts(app, ids)


# --- schedule, pages, isolation -------------------------------------------------------------------------


def test_nightly_schedule_is_in_the_clients_time_zone_and_the_ticker_queues_due_runs(app, world, roots):
    ids = _setup(app, world)
    with FtpServer(roots) as server:
        source_id = _source(app, ids, "ftp", server.port)
        with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
            source = db.session.get(BatchSource, source_id)
            client = db.session.get(Client, ids["cid"])
            client.timezone = "Europe/Rome"
            winter = svc.next_run(source, client, datetime(2026, 1, 10, 12, 0, tzinfo=UTC))
            summer = svc.next_run(source, client, datetime(2026, 7, 10, 12, 0, tzinfo=UTC))
            assert winter == datetime(2026, 1, 11, 1, 0, tzinfo=UTC)  # 02:00 in Rome (UTC+1)
            assert summer == datetime(2026, 7, 11, 0, 0, tzinfo=UTC)  # 02:00 in Rome (UTC+2)
            source.next_run_at = datetime(2026, 1, 1, tzinfo=UTC)
            db.session.commit()
        # The ticker every worker runs queues the fan-out job like every periodic job; a real worker runs it.
        redis = Redis.from_url(app.config["PORTAL_SETTINGS"].redis_url)
        assert any(job_id.startswith("periodic-batch-due-") for job_id in tick(redis))
        run_jobs(app)
        with app.app_context():
            assert queue_due_runs() == []  # moved on: the next tick queues nothing
        with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
            [run] = db.session.scalars(select(BatchRun)).all()
            assert (
                run.trigger == "schedule"
                and run.state == RUN_DONE
                and run.message == "No new file on the server."
            )
            assert db.session.get(BatchSource, source_id).next_run_at > datetime.now(UTC)


def test_pages_create_edit_delete_and_tenant_isolation(app, world):
    ids = _setup(app, world)
    http = client_for(app, world, "A1.admin")
    assert "No file source yet" in http.get("/app/batch").get_data(as_text=True)
    resp = http.post(
        "/app/batch/new",
        {
            "name": "CRM export",
            "protocol": "sftp",
            "host": "files.example.com",
            "port": "",
            "username": "crm",
            "password": "pw-123456",
            "remote_dir": "/exports",
            "list_id": str(ids["list_id"]),
            "status": "subscribed",
            "update_existing": "y",
            "schedule": "nightly",
            "run_at": "03:30",
            "enabled": "y",
            "notify_admins": "y",
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    source_id = int(resp.location.rstrip("/").rsplit("/", 1)[1])
    with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
        source = db.session.get(BatchSource, source_id)
        assert (
            source.port == 22
            and source.remote_dir == "/exports"
            and "pw-123456" not in source.secrets_encrypted
        )
        assert svc.endpoint(source).password == "pw-123456" and source.next_run_at is not None
    edit = http.get(f"/app/batch/{source_id}/edit").get_data(as_text=True)
    assert "pw-123456" not in edit and "CRM export" in edit

    for key in ("B1.admin", "A2.admin"):  # another agency's client, and another client of the same agency
        other = client_for(app, world, key)
        for path in (f"/app/batch/{source_id}", f"/app/batch/{source_id}/edit"):
            assert other.get(path).status_code == 404
        for path in ("delete", "run", "test", "pin"):
            assert (
                other.post(f"/app/batch/{source_id}/{path}", {"key": "x"}, csrf_path="/app/batch").status_code
                == 404
            )
    viewer = client_for(app, world, "A1.viewer")
    assert viewer.get(f"/app/batch/{source_id}").status_code == 200
    assert viewer.get("/app/batch/new").status_code == 403

    assert http.post(f"/app/batch/{source_id}/delete", csrf_path=f"/app/batch/{source_id}").status_code == 302
    with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
        assert db.session.get(BatchSource, source_id) is None


@pytest.mark.parametrize(
    "host",
    [
        "10.0.0.5",
        "192.168.1.1",
        "169.254.169.254",
        "[::1]",
        "::ffff:127.0.0.1",
        "0.0.0.0",
        "metadata.google.internal",
    ],
)
def test_servers_on_private_or_internal_addresses_are_refused(host):
    from portal.batch.remote import RemoteError, resolve_checked

    with pytest.raises(RemoteError, match="only servers on the internet"):
        resolve_checked(host.strip("[]"), allow_localhost=False)


def test_loopback_is_allowed_only_when_the_deployment_says_so():
    from portal.batch.remote import RemoteError, resolve_checked

    assert resolve_checked("127.0.0.1", allow_localhost=True) == "127.0.0.1"
    with pytest.raises(RemoteError):
        resolve_checked("127.0.0.1", allow_localhost=False)
    with pytest.raises(RemoteError):
        resolve_checked("10.1.2.3", allow_localhost=True)  # loopback only, never the private ranges


def test_a_run_whose_worker_died_does_not_block_its_source(app, world):
    ids = _setup(app, world)
    source_id = _source(app, ids, "ftp", 2121)
    with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
        client = db.session.get(Client, ids["cid"])
        stuck = BatchRun(agency_id=ids["ag"], client_id=ids["cid"], source_id=source_id, state="running")
        db.session.add(stuck)
        db.session.commit()  # running, but nobody holds the source (its worker was killed)
        fresh = svc.start_run(actor=None, client=client, source=svc.get_source(source_id), enqueue=False)
        db.session.commit()
        assert db.session.get(BatchRun, stuck.id).state == RUN_FAILED
        assert "stopped before it finished" in db.session.get(BatchRun, stuck.id).message
        with pytest.raises(DomainError, match="already queued"):  # the new one does hold it
            svc.start_run(actor=None, client=client, source=svc.get_source(source_id), enqueue=False)
        assert fresh.state == "queued"


def test_a_file_waits_for_the_next_run_while_the_accounts_import_slots_are_full(app, world, roots):
    from portal.models import ContactImport

    ids = _setup(app, world)
    with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
        for n in range(2):  # two imports already queued by hand: the account's limit
            db.session.add(
                ContactImport(
                    agency_id=ids["ag"],
                    client_id=ids["cid"],
                    status="queued",
                    source_name=f"manual-{n}.csv",
                    stored_name=f"manual-{n}.upload",
                    sha256="0" * 64,
                )
            )
        db.session.commit()
    (roots / "later.csv").write_text("email\r\nlate@example.com\r\n")
    with FtpServer(roots) as server:
        source_id = _source(app, ids, "ftp", server.port)
        run_id = _run(app, ids, source_id)
    [row] = _files(app, ids, run_id)
    assert row.status == FILE_RETRY and "imports are already running" in row.message
    assert (roots / "later.csv").exists() and "late@example.com" not in _contacts(app, ids)
    with app.app_context(), bind_tenant(ids["ag"], ids["cid"]):
        assert db.session.get(BatchRun, run_id).state == "partial"


def test_archives_follow_the_upload_rules(app, world, roots):
    """The same ZIP rules as uploads: names leaving the archive, archives inside archives, and members whose
    compression ratio betrays a bomb are refused, and nothing is imported."""
    ids = _setup(app, world)
    traversal = io.BytesIO()
    with zipfile.ZipFile(traversal, "w") as z:
        z.writestr("Settings.xml", _settings("save"))
        z.writestr("../Markup.htm", "<p>escape</p>")
    (roots / "escape.zip").write_bytes(traversal.getvalue())
    (roots / "nested.zip").write_bytes(_zip({"inner.csv": _zip({"a.csv": "email\r\na@example.com\r\n"})}))
    (roots / "bomb.zip").write_bytes(_zip({"big.csv": "email\r\n" + "0" * (3 * 1024 * 1024)}))
    with FtpServer(roots) as server:
        source_id = _source(app, ids, "ftp", server.port)
        files = {f.name: f for f in _files(app, ids, _run(app, ids, source_id))}
    assert all(f.status == FILE_FAILED for f in files.values()), {n: f.message for n, f in files.items()}
    assert "leaves the archive" in files["escape.zip"].problems[0]["what"]
    assert "archives inside archives" in " ".join(p["what"] for p in files["nested.zip"].problems)
    assert "compression ratio" in " ".join(p["what"] for p in files["bomb.zip"].problems)
    assert _contacts(app, ids) == {}
