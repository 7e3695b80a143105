"""The embedded development services: SMTP capture + outbox reader, and the bundled Redis.

Self-contained: no app, no conftest fixtures.
"""

from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage
from types import SimpleNamespace

import pytest
import redis

from portal.embedded.outbox import list_messages, read_message
from portal.embedded.redis_server import ensure_redis, start_redis_on_free_port, stop_redis
from portal.embedded.smtp_capture import start_capture, stop_capture


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def capture(tmp_path):
    outbox = tmp_path / "outbox"
    port = _free_port()
    controller = start_capture(outbox, port=port)
    try:
        yield outbox, port
    finally:
        stop_capture(controller)


def _message(subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Agence Démo <no-reply@demo.localhost>"
    msg["To"] = "client@example.org"
    msg["Subject"] = subject
    msg.set_content("Bonjour, voici le texte — ünïcode.")
    msg.add_alternative("<p>Bonjour <b>HTML</b></p>", subtype="html")
    return msg


def test_capture_writes_eml_and_outbox_reads_it(capture):
    outbox, port = capture
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(
            _message("Première campagne"),
            from_addr="bounce+42@demo.localhost",
            to_addrs=["client@example.org", "bcc@example.org"],
        )
        smtp.send_message(_message("Second"), to_addrs=["client@example.org"])

    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 2
    assert not list(outbox.glob(".*.tmp"))
    raw = files[0].read_bytes()
    assert raw.startswith(b"X-Capture-Mail-From: bounce+42@demo.localhost\r\n")
    assert b"X-Capture-Rcpt-To: client@example.org, bcc@example.org\r\n" in raw

    listed = list_messages(outbox)
    assert [m.subject for m in listed] == ["Second", "Première campagne"]  # newest first
    first = listed[1]
    assert first.id == files[0].stem
    assert first.mail_from == "bounce+42@demo.localhost"
    assert first.rcpt_to == ["client@example.org", "bcc@example.org"]
    assert first.from_ == "Agence Démo <no-reply@demo.localhost>"
    assert first.to == "client@example.org"
    assert first.received_at is not None and first.received_at.tzinfo is not None
    assert len(list_messages(outbox, limit=1)) == 1

    headers, text, html, raw_read = read_message(outbox, first.id)
    assert ("Subject", "Première campagne") in headers
    assert ("X-Capture-Mail-From", "bounce+42@demo.localhost") in headers
    assert "ünïcode" in text
    assert "<b>HTML</b>" in html
    assert raw_read == raw


@pytest.mark.parametrize(
    "bad_id",
    [
        "../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "20240101T000000000000-" + "0" * 31 + "/",
        "20240101T000000000000-" + "A" * 32,
        "/tmp/x",
        "",
        "20240101T000000000000-" + "0" * 32 + ".eml",
    ],
)
def test_read_message_rejects_bad_ids(tmp_path, bad_id):
    (tmp_path / "secret.eml").write_bytes(b"Subject: secret\r\n\r\nnope\r\n")
    with pytest.raises(KeyError):
        read_message(tmp_path, bad_id)


def test_read_message_unknown_id_and_missing_dir(tmp_path):
    with pytest.raises(KeyError):
        read_message(tmp_path, "20240101T000000000000-" + "0" * 32)
    assert list_messages(tmp_path / "does-not-exist") == []


def test_bundled_redis_starts_answers_and_stops(tmp_path):
    proc, url = start_redis_on_free_port(tmp_path)
    try:
        client = redis.Redis.from_url(url)
        try:
            assert client.ping() is True
            client.set("k", "v")
            assert client.get("k") == b"v"
        finally:
            client.close()
    finally:
        stop_redis(proc)
    assert proc.poll() is not None


def test_ensure_redis_skips_external_and_reuses_running(tmp_path):
    external = SimpleNamespace(embedded_redis=False, redis_url="redis://127.0.0.1:1/0", instance_dir=tmp_path)
    assert ensure_redis(external) is None

    proc, url = start_redis_on_free_port(tmp_path)
    try:
        running = SimpleNamespace(embedded_redis=True, redis_url=url, instance_dir=tmp_path)
        assert ensure_redis(running) is None  # something already answers PING: reuse it
    finally:
        stop_redis(proc)


def test_ensure_redis_starts_bundled_server(tmp_path):
    url = f"redis://127.0.0.1:{_free_port()}/0"
    settings = SimpleNamespace(embedded_redis=True, redis_url=url, instance_dir=tmp_path)
    proc = ensure_redis(settings)
    assert proc is not None
    try:
        client = redis.Redis.from_url(url)
        try:
            assert client.ping() is True
        finally:
            client.close()
        assert (tmp_path / "redis").is_dir()
    finally:
        stop_redis(proc)


def test_capture_accepts_smtputf8_and_large_messages(capture):
    outbox, port = capture
    msg = _message("Gros fichier")
    msg.add_attachment(
        b"\0" * (12 * 1024 * 1024), maintype="application", subtype="octet-stream", filename="big.bin"
    )
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("smtputf8")
        smtp.send_message(msg, from_addr="élodie@démo.example", to_addrs=["jürgen@exämple.org"])
    (only,) = list_messages(outbox)
    assert only.mail_from == "élodie@démo.example"
    assert only.rcpt_to == ["jürgen@exämple.org"]
