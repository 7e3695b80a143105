"""What comes back: DSN bounces (RFC 3464, check 44), ARF complaints (RFC 5965, check 45), unsubscribes by
email, attribution by our own tokens only (check 46 for the SMTP path), and the real inbound SMTP server.

Fixtures in tests/fixtures/inbound/ are real-world shaped reports with placeholders ({{VERP}}, {{RCPT}},
{{SEND_ID}}, {{UNSUB_URL}}, {{REPORT_ID}}) filled from a message the portal really sent."""

from __future__ import annotations

import smtplib
import socket
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.embedded.bounce_server import start_bounce_server, stop_bounce_server
from portal.extensions import db
from portal.inbound.parse import parse
from portal.inbound.process import process_message
from portal.models import AuditEvent, Campaign, Client, Event, Subscription, Suppression
from portal.sending import control
from portal.tenancy import all_tenants, bind_tenant

from .sending_support import make_campaign
from .support import run_jobs

FIXTURES = Path(__file__).parent / "fixtures" / "inbound"
ANNA = "anna@example.org"


def _start(app, s) -> None:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        control.start_send(actor=None, client=client, campaign=campaign)
        db.session.commit()


def _sent(app, world, client_key="A1", contacts=((ANNA, "Anna"), ("bruno@example.org", "Bruno"))):
    s = make_campaign(app, world, contacts=list(contacts), client_key=client_key)
    _start(app, s)
    run_jobs(app)
    return s


def _values(outbox, email=ANNA, host="ag1.portal.test") -> dict[str, str]:
    """The tokens of the message this recipient really received."""
    msg = next(m for m in outbox.to(email) if host in str(m["Message-ID"]))
    unsub = str(msg["List-Unsubscribe"]).split(">", 1)[0].lstrip("<")
    return {
        "VERP": str(msg["X-Capture-Mail-From"]),
        "RCPT": email,
        "SEND_ID": str(msg["X-Send-Id"]),
        "UNSUB_URL": unsub,
        "MAILTO": str(msg["List-Unsubscribe"]).split("mailto:", 1)[1].rstrip(">"),
    }


def _fixture(name: str, values: dict[str, str], **extra) -> bytes:
    raw = (FIXTURES / name).read_bytes()
    fill = {"REPORT_ID": uuid.uuid4().hex, **values, **extra}
    for key, value in fill.items():
        raw = raw.replace(f"{{{{{key}}}}}".encode(), value.encode())
    return raw


def _feed(app, raw: bytes, rcpt: str):
    with app.app_context():
        return process_message(raw, [rcpt], "")


def _fbl(app) -> str:
    return f"fbl@{app.config['PORTAL_SETTINGS'].bounce_domain}"


def _rows(app, s):
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        events = db.session.execute(
            select(Event.kind, Event.bounce_class, Event.status_code, Event.detail).order_by(Event.id)
        ).all()
        suppressions = dict(db.session.execute(select(Suppression.address, Suppression.reason)).all())
        alerts = db.session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "deliverability.alert")
        ).all()
        return events, suppressions, alerts


# --- check 44: DSN classification ----------------------------------------------------------------------


def test_fixtures_parse_as_reports():
    rows = {
        "dsn_5.1.1_bad_mailbox.eml": ("failed", "5.1.1"),
        "dsn_5.1.10_null_mx.eml": ("failed", "5.1.10"),
        "dsn_4.4.1_delayed.eml": ("delayed", "4.4.1"),
        "dsn_4.7.32_dmarc.eml": ("delayed", "4.7.32"),
    }
    for name, (action, code) in rows.items():
        report = parse((FIXTURES / name).read_bytes())
        assert report.kind == "dsn" and report.message_id
        assert (report.recipients[0].action, report.recipients[0].code) == (action, code)
        assert report.original is not None and report.original["X-Send-Id"] == "{{SEND_ID}}"
    arf = parse((FIXTURES / "arf_abuse.eml").read_bytes())
    assert (arf.kind, arf.feedback_type, arf.original_rcpt_to) == ("arf", "abuse", "{{rcpt}}")
    for name in ("garbage_report.eml", "garbage_binary.eml"):
        assert parse((FIXTURES / name).read_bytes()).kind == "other"


@pytest.mark.parametrize(
    "name, code",
    [
        ("dsn_5.1.1_bad_mailbox.eml", "5.1.1"),
        ("dsn_5.1.2_bad_domain.eml", "5.1.2"),
        ("dsn_5.1.10_null_mx.eml", "5.1.10"),
        ("dsn_5.4.4_unroutable.eml", "5.4.4"),
    ],
)
def test_hard_bounces_suppress_at_once(app, world, outbox, name, code):
    s = _sent(app, world)
    v = _values(outbox)
    outcome = _feed(app, _fixture(name, v), v["VERP"])
    assert (outcome.result, outcome.kind) == ("recorded", "bounce")
    events, suppressions, alerts = _rows(app, s)
    assert [(e[0], e[1], e[2]) for e in events] == [("bounce", "hard", code)]
    assert suppressions == {ANNA: "hard_bounce"} and not alerts
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        statuses = set(db.session.scalars(select(Subscription.status)))
    assert statuses == {"bounced", "subscribed"}  # Anna bounced, Bruno untouched


@pytest.mark.parametrize("name", ["dsn_4.4.1_delayed.eml", "dsn_5.2.2_mailbox_full.eml"])
def test_soft_bounces_suppress_only_after_three_in_fifteen_days(app, world, outbox, name):
    s = _sent(app, world)
    v = _values(outbox)
    for expected_events in (1, 2):
        assert _feed(app, _fixture(name, v), v["VERP"]).result == "recorded"
        events, suppressions, _ = _rows(app, s)
        assert len(events) == expected_events and {e[1] for e in events} == {"soft"}
        assert suppressions == {}
    _feed(app, _fixture(name, v), v["VERP"])
    assert _rows(app, s)[1] == {ANNA: "soft_bounce_limit"}


def test_soft_bounces_older_than_the_window_do_not_count(app, world, outbox):
    from datetime import UTC, datetime, timedelta

    s = _sent(app, world)
    v = _values(outbox)
    for _ in range(2):
        _feed(app, _fixture("dsn_5.2.2_mailbox_full.eml", v), v["VERP"])
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        for event in db.session.scalars(select(Event)):
            event.created_at = datetime.now(UTC) - timedelta(days=16)
        db.session.commit()
    _feed(app, _fixture("dsn_5.2.2_mailbox_full.eml", v), v["VERP"])
    assert _rows(app, s)[1] == {}


@pytest.mark.parametrize(
    "name, code", [("dsn_5.7.1_policy.eml", "5.7.1"), ("dsn_4.7.32_dmarc.eml", "4.7.32")]
)
def test_policy_rejections_alert_the_agency_and_suppress_nothing(app, world, outbox, name, code):
    s = _sent(app, world)
    v = _values(outbox)
    _feed(app, _fixture(name, v), v["VERP"])
    events, suppressions, alerts = _rows(app, s)
    assert [(e[0], e[1], e[2]) for e in events] == [("bounce", "policy", code)]
    assert suppressions == {}
    assert len(alerts) == 1 and alerts[0]["kind"] == "policy" and alerts[0]["status_code"] == code
    with app.app_context(), all_tenants():
        agency_of_alert = db.session.scalar(
            select(AuditEvent.agency_id).where(AuditEvent.action == "deliverability.alert")
        )
    assert agency_of_alert == s.agency_id


@pytest.mark.parametrize("name", ["garbage_report.eml", "garbage_binary.eml"])
def test_garbage_is_kept_for_review_and_records_nothing(app, world, outbox, name):
    s = _sent(app, world)
    v = _values(outbox)
    raw = (FIXTURES / name).read_bytes()
    outcome = _feed(app, raw, v["VERP"])
    assert outcome.result == "unparsed" and outcome.kept_as.endswith(".eml") and "/" not in outcome.kept_as
    kept = Path(app.config["PORTAL_SETTINGS"].instance_dir) / "inbound-unparsed" / outcome.kept_as
    assert kept.read_bytes().endswith(raw)
    assert _rows(app, s) == ([], {}, [])


def test_the_same_report_twice_is_one_bounce(app, world, outbox):
    s = _sent(app, world)
    v = _values(outbox)
    raw = _fixture("dsn_5.2.2_mailbox_full.eml", v)
    assert _feed(app, raw, v["VERP"]).result == "recorded"
    assert _feed(app, raw, v["VERP"]).result == "duplicate"
    events, _, _ = _rows(app, s)
    assert len(events) == 1


def test_a_report_without_any_token_of_ours_is_held_not_guessed_from_the_address(app, world, outbox):
    s = _sent(app, world)
    v = _values(outbox)
    junk = {**v, "VERP": f"b+nottoken@{app.config['PORTAL_SETTINGS'].bounce_domain}", "SEND_ID": "forged"}
    junk["UNSUB_URL"] = "https://ag1.portal.test/u/forgedforgedforgedforged"
    outcome = _feed(app, _fixture("dsn_5.1.1_bad_mailbox.eml", junk), junk["VERP"])
    assert outcome.result == "unattributed" and outcome.kept_as
    assert _rows(app, s) == ([], {}, [])


def test_dsn_attributed_from_the_returned_headers_when_the_envelope_has_no_token(app, world, outbox):
    s = _sent(app, world)
    v = _values(outbox)
    outcome = _feed(app, _fixture("dsn_5.1.1_bad_mailbox.eml", v), f"postmaster@{_fbl(app).split('@')[1]}")
    assert outcome.result == "recorded"
    assert _rows(app, s)[1] == {ANNA: "hard_bounce"}


# --- check 45: complaints ------------------------------------------------------------------------------


@pytest.mark.parametrize("feedback_type", ["abuse", "fraud", "virus", "other"])
def test_complaint_with_original_rcpt_to_suppresses_for_that_tenant(app, world, outbox, feedback_type):
    s = _sent(app, world)
    v = _values(outbox)
    raw = _fixture("arf_abuse.eml", v).replace(
        b"Feedback-Type: abuse", f"Feedback-Type: {feedback_type}".encode()
    )
    outcome = _feed(app, raw, _fbl(app))
    assert (outcome.result, outcome.kind) == ("recorded", "complaint")
    events, suppressions, alerts = _rows(app, s)
    assert [(e[0], e[3]) for e in events] == [("complaint", feedback_type)]
    assert suppressions == {ANNA: "complaint"} and not alerts


def test_complaint_with_the_recipient_redacted_is_attributed_by_x_send_id(app, world, outbox):
    s = _sent(app, world)
    v = _values(outbox)
    raw = _fixture("arf_abuse_redacted.eml", v)
    assert b"anna@" not in raw  # nothing but our own token names the recipient
    assert _feed(app, raw, _fbl(app)).result == "recorded"
    assert _rows(app, s)[1] == {ANNA: "complaint"}
    assert _feed(app, raw, _fbl(app)).result == "duplicate"
    assert len(_rows(app, s)[0]) == 1


def test_auth_failure_report_is_an_alert_only(app, world, outbox):
    s = _sent(app, world)
    v = _values(outbox)
    outcome = _feed(app, _fixture("arf_auth_failure.eml", v), _fbl(app))
    assert outcome.result == "alert"
    events, suppressions, alerts = _rows(app, s)
    assert events == [] and suppressions == {}
    assert [a["kind"] for a in alerts] == ["auth-failure"]
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert set(db.session.scalars(select(Subscription.status))) == {"subscribed"}


def test_complaint_for_an_address_in_two_tenants_affects_only_the_token_owner(app, world, outbox):
    a1 = _sent(app, world)
    b1 = _sent(app, world, client_key="B1")
    v = _values(outbox, host="ag1.portal.test")
    assert _feed(app, _fixture("arf_abuse.eml", v), _fbl(app)).result == "recorded"
    assert _rows(app, a1)[1] == {ANNA: "complaint"}
    assert _rows(app, b1) == ([], {}, [])
    with app.app_context(), bind_tenant(b1.agency_id, b1.client_id):
        assert set(db.session.scalars(select(Subscription.status))) == {"subscribed"}


# --- unsubscribe by email (RFC 2369 mailto) ------------------------------------------------------------


def test_mail_to_the_unsubscribe_address_unsubscribes_once(app, world, outbox):
    s = _sent(app, world)
    v = _values(outbox)
    raw = f"From: {ANNA}\r\nTo: {v['MAILTO']}\r\nSubject: unsubscribe\r\n\r\nplease\r\n".encode()
    assert _feed(app, raw, v["MAILTO"]).result == "recorded"
    assert _feed(app, raw, v["MAILTO"]).result == "duplicate"
    events, suppressions, _ = _rows(app, s)
    assert [e[0] for e in events] == ["unsubscribe"] and suppressions == {ANNA: "list_unsubscribe"}


# --- the real SMTP path --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # wire form (smtplib sends bytes as is)


def test_a_dsn_through_the_inbound_smtp_server_suppresses(app, world, outbox):
    s = _sent(app, world)
    v = _values(outbox)
    domain = app.config["PORTAL_SETTINGS"].bounce_domain
    assert v["VERP"].startswith("b+") and v["VERP"].endswith("@" + domain)
    port = _free_port()
    controller = start_bounce_server(app, "127.0.0.1", port)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                smtp.sendmail("", ["someone@elsewhere.example"], b"Subject: relay?\r\n\r\nno\r\n")
            assert refused.value.recipients["someone@elsewhere.example"][0] == 550
            smtp.rset()
            smtp.sendmail("", [v["VERP"]], _crlf(_fixture("dsn_5.1.1_bad_mailbox.eml", v)))
            smtp.sendmail("", [v["VERP"]], _crlf((FIXTURES / "garbage_binary.eml").read_bytes()))
    finally:
        stop_bounce_server(controller)
    events, suppressions, _ = _rows(app, s)
    assert suppressions == {ANNA: "hard_bounce"} and len(events) == 1
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert db.session.scalar(select(func.count(Suppression.id))) == 1
