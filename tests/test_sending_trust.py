"""Sending you can trust: one bad recipient never stalls a campaign, the relay's own faults are not the
recipients' bounces, suspension and cancel stop sending, and every campaign reaches a final state."""

from __future__ import annotations

import dataclasses
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from portal.extensions import db
from portal.models import (
    Agency,
    AuditEvent,
    Campaign,
    Client,
    Connection,
    Contact,
    Delivery,
    Event,
    Suppression,
)
from portal.sending import control
from portal.sending.batches import MAX_ATTEMPTS
from portal.sending.outcomes import BREAKER_LIMIT
from portal.sending.sweeper import sweep
from portal.services import events
from portal.tenancy import all_tenants, bind_tenant

from .relay_sink import ScriptedRelay, running
from .sending_support import make_campaign
from .support import run_jobs

PEOPLE = [("anna@example.org", "Anna"), ("bruno@example.org", "Bruno"), ("carla@example.org", "Carla")]


@pytest.fixture
def quick(app):
    """A one-second lease (renewed every third of a second)."""
    saved = app.config["PORTAL_SETTINGS"]
    app.config["PORTAL_SETTINGS"] = dataclasses.replace(saved, send_lease_seconds=1)
    yield
    app.config["PORTAL_SETTINGS"] = saved


def _time_passes(app, s) -> None:
    """The waits the backoff asked for are over (instead of sleeping through them)."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        if campaign.retry_at is not None:
            campaign.retry_at = past
        for row in db.session.scalars(select(Delivery).where(Delivery.retry_after.is_not(None))):
            row.retry_after = past
        db.session.commit()


def _send_until(app, s, done, stop: threading.Event) -> None:
    """A worker thread: the delivery loop itself, over and over (RQ's worker wants the main thread)."""
    from portal.sending.batches import send_batches

    while not stop.is_set() and not done():
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            send_batches(s.campaign_id)
            db.session.remove()
        time.sleep(0.1)


def _bind_relay(app, s, port: int) -> None:
    with app.app_context(), bind_tenant(s.agency_id):
        conn = Connection(
            agency_id=s.agency_id,
            kind="smtp",
            name="Relay",
            options={"host": "127.0.0.1", "port": port, "tls": "none", "username": ""},
        )
        db.session.add(conn)
        db.session.flush()
        db.session.scalar(select(Client).where(Client.id == s.client_id)).email_connection_id = conn.id
        db.session.commit()


def _start(app, s) -> None:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        control.start_send(actor=None, client=client, campaign=campaign)
        db.session.commit()


def _rows(app, s) -> dict[str, tuple]:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        return {
            r.address: (r.status, r.attempts, r.error)
            for r in db.session.scalars(select(Delivery).where(Delivery.campaign_id == s.campaign_id))
        }


def _campaign(app, s) -> Campaign:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        db.session.expunge(campaign)
        return campaign


def _sweep_and_run(app, s=None) -> None:
    if s is not None:
        _time_passes(app, s)
    with app.app_context():
        sweep()
    run_jobs(app)


# --- one bad recipient ------------------------------------------------------------------------------------


def test_an_international_domain_goes_out_as_its_a_label(app, world, outbox):
    s = make_campaign(app, world, contacts=[("anna@bücher.de", "Anna"), *PEOPLE[1:]])
    _start(app, s)
    run_jobs(app)
    assert sorted(str(m["To"]) for m in outbox.messages()) == [
        "anna@xn--bcher-kva.de",
        "bruno@example.org",
        "carla@example.org",
    ]
    assert {v[0] for v in _rows(app, s).values()} == {"sent"}
    assert _campaign(app, s).status == "sent"


def test_a_non_ascii_local_part_needs_a_relay_offering_smtputf8(app, world, quick):
    s = make_campaign(app, world, contacts=[("jörg@example.org", "Jörg"), *PEOPLE[1:]])
    relay = ScriptedRelay()
    with running(relay, smtputf8=False) as port:
        _bind_relay(app, s, port)
        _start(app, s)
        run_jobs(app)
    rows = _rows(app, s)
    status, _, error = rows["jörg@example.org"]
    assert status == "failed" and "SMTPUTF8" in error and "@" in error
    assert rows["bruno@example.org"][0] == rows["carla@example.org"][0] == "sent"
    assert _campaign(app, s).status == "sent"
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert db.session.scalar(select(Suppression.id)) is None  # our limitation is not their bounce


def test_a_non_ascii_local_part_goes_out_when_the_relay_offers_smtputf8(app, world, quick):
    s = make_campaign(app, world, contacts=[("jörg@bücher.de", "Jörg")])
    relay = ScriptedRelay()
    with running(relay, smtputf8=True) as port:
        _bind_relay(app, s, port)
        _start(app, s)
        run_jobs(app)
    assert relay.accepted == {"jörg@xn--bcher-kva.de": 1}
    assert "SMTPUTF8" in relay.mail_from_options[0]
    assert _rows(app, s)["jörg@bücher.de"][0] == "sent"


def test_a_template_error_for_one_contact_fails_that_delivery_only(app, world, outbox):
    html = "<p>Hello {{ first_name }}, your share is {{ 100 // score }}%.</p>"
    s = make_campaign(app, world, contacts=PEOPLE, html=html, subject="News")
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        for contact in db.session.scalars(select(Contact)):
            contact.fields = {**contact.fields, "score": 0 if contact.email.startswith("bruno") else 4}
        db.session.commit()
    _start(app, s)
    run_jobs(app)
    rows = _rows(app, s)
    assert rows["bruno@example.org"][0] == "failed" and "ZeroDivisionError" in rows["bruno@example.org"][2]
    assert sorted(str(m["To"]) for m in outbox.messages()) == ["anna@example.org", "carla@example.org"]
    assert _campaign(app, s).status == "sent"


def test_the_sweeper_gives_up_on_a_row_after_max_attempts(app, world):
    s = make_campaign(app, world, contacts=PEOPLE[:2])
    _start(app, s)
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        first, second = db.session.scalars(select(Delivery).order_by(Delivery.id)).all()
        expired = datetime.now(UTC) - timedelta(seconds=5)
        for row, attempts in ((first, MAX_ATTEMPTS - 1), (second, 0)):
            row.status, row.claim_token, row.lease_until, row.attempts = "claimed", "dead", expired, attempts
        db.session.commit()
    with app.app_context():
        report = sweep()
    assert report["gave_up"] == 1 and report["released"] == 1
    rows = _rows(app, s)
    assert rows["anna@example.org"][:2] == ("failed", MAX_ATTEMPTS)
    assert "stopped" in rows["anna@example.org"][2]
    assert rows["bruno@example.org"][:2] == ("pending", 1)  # it was on the wire too: one attempt
    run_jobs(app)
    assert _campaign(app, s).status == "sent"


# --- the relay's faults are not the recipients' -----------------------------------------------------------


@pytest.mark.parametrize("fault", ["sender refused", "connection refused"])
def test_a_relay_fault_is_never_a_bounce_and_pauses_the_campaign_after_retries(app, world, quick, fault):
    s = make_campaign(app, world, contacts=PEOPLE)
    relay = ScriptedRelay(mail_reply="550 5.1.8 Sender address rejected: domain not found")
    with running(relay) as port:
        _bind_relay(app, s, port if fault == "sender refused" else _closed_port())
        _start(app, s)
        run_jobs(app)
        campaign = _campaign(app, s)
        assert (
            campaign.status == "sending" and campaign.backend_failures == 1 and campaign.retry_at is not None
        )
        for _ in range(BREAKER_LIMIT - 1):
            _sweep_and_run(app, s)
    campaign = _campaign(app, s)
    assert campaign.status == "paused"
    assert ("5.1.8" if fault == "sender refused" else "connection refused") in campaign.message
    assert "127.0.0.1" not in campaign.message
    assert {v[:2] for v in _rows(app, s).values()} == {("pending", 0)}  # nothing tried, nothing lost
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert db.session.scalar(select(Suppression.id)) is None
        assert db.session.scalar(select(Event.id)) is None
        paused = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "campaign.paused"))
        assert paused is not None


def test_a_refusal_at_rcpt_is_that_recipients_bounce_through_the_events_path(app, world, quick):
    s = make_campaign(app, world, contacts=PEOPLE)
    relay = ScriptedRelay(rcpt_replies={"bruno@example.org": "550 5.1.1 <bruno@example.org>: no such user"})
    with running(relay) as port:
        _bind_relay(app, s, port)
        _start(app, s)
        run_jobs(app)
    assert relay.accepted == {"anna@example.org": 1, "carla@example.org": 1}
    rows = _rows(app, s)
    assert rows["bruno@example.org"][:2] == ("failed", 1) and "5.1.1" in rows["bruno@example.org"][2]
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        event = db.session.scalar(select(Event))
        assert (event.kind, event.bounce_class, event.status_code, event.source) == (
            "bounce",
            "hard",
            "5.1.1",
            "smtp",
        )
        assert db.session.scalars(select(Suppression.address)).all() == ["bruno@example.org"]
    assert _campaign(app, s).status == "sent"


def test_a_temporary_refusal_defers_only_that_recipient_until_attempts_run_out(app, world, quick):
    s = make_campaign(app, world, contacts=PEOPLE)
    relay = ScriptedRelay(rcpt_replies={"carla@example.org": "452 4.2.2 mailbox full, try later"})
    with running(relay) as port:
        _bind_relay(app, s, port)
        _start(app, s)
        run_jobs(app)
        rows = _rows(app, s)
        assert rows["carla@example.org"][:2] == ("pending", 1)
        assert rows["anna@example.org"][0] == rows["bruno@example.org"][0] == "sent"
        for _ in range(MAX_ATTEMPTS - 1):
            _sweep_and_run(app, s)
    assert _rows(app, s)["carla@example.org"][:2] == ("failed", MAX_ATTEMPTS)
    assert relay.accepted == {"anna@example.org": 1, "bruno@example.org": 1}
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert db.session.scalar(select(Suppression.id)) is None  # a deferral is no bounce
    assert _campaign(app, s).status == "sent"


def _closed_port() -> int:
    from .conftest import _free_port

    return _free_port()  # nothing listens there


# --- a slow relay and a short lease -------------------------------------------------------------------------


def test_a_slow_relay_outlasting_the_lease_still_sends_each_message_once(app, world, quick):
    """Each message takes longer than the whole lease. Without renewal the sweeper would hand the rows to
    the second worker while the first is still sending them."""
    s = make_campaign(app, world, contacts=PEOPLE)
    relay = ScriptedRelay(data_delay=1.5)
    stop = threading.Event()

    def sweeper():
        while not stop.wait(0.2):
            with app.app_context():
                sweep()
                db.session.remove()

    def sent() -> bool:
        return _campaign(app, s).status == "sent"

    with running(relay) as port:
        _bind_relay(app, s, port)
        _start(app, s)
        threads = [threading.Thread(target=sweeper)]
        threads += [threading.Thread(target=_send_until, args=(app, s, sent, stop)) for _ in range(2)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while not sent() and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(30)
    assert relay.accepted == {a: 1 for a, _ in PEOPLE}
    assert {v[0] for v in _rows(app, s).values()} == {"sent"}


def test_a_message_on_the_wire_is_withdrawn_when_the_previous_mark_finds_its_row_taken(app, world):
    """The next message's envelope travels (on the relay's second lane) while the previous message is
    answered and marked; its content waits for that mark. Here another claimant takes the rows while
    Anna's message is being accepted: Anna's mark finds nothing, so Bruno's message, already on the wire,
    is abandoned at DATA before its content, and so is any message after it; the worker stops."""
    from portal.sending.batches import send_batches

    s = make_campaign(app, world, contacts=PEOPLE)
    with app.app_context():
        engine = db.engine

    def take_rows(rcpt: str) -> None:  # in the relay's thread, before it answers Anna's DATA
        if rcpt == "anna@example.org":
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "UPDATE delivery SET claim_token = 'thief' WHERE campaign_id = :c AND status = 'claimed'"
                    ),
                    {"c": s.campaign_id},
                )

    relay = ScriptedRelay(on_data=take_rows)
    with running(relay) as port:
        _bind_relay(app, s, port)
        _start(app, s)
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            send_batches(s.campaign_id)
            db.session.remove()
    assert relay.rcpt_seen["bruno@example.org"] == 1  # Bruno's message was on the wire...
    assert relay.accepted == {"anna@example.org": 1}  # ...and, like Carla's, never delivered
    assert {v[0] for v in _rows(app, s).values()} == {"claimed"}  # the thief's rows, untouched by the worker


# --- suspension and cancel ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["client", "agency"])
def test_suspension_pauses_sending_and_reactivation_does_not_resume(app, world, outbox, who):
    s = make_campaign(app, world, contacts=PEOPLE)
    _start(app, s)
    _set_status(app, s, who, "suspended")
    run_jobs(app)
    assert outbox.messages() == []
    campaign = _campaign(app, s)
    assert campaign.status == "paused" and "suspended" in campaign.message
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "campaign.paused"))
    _set_status(app, s, who, "active")
    _sweep_and_run(app)
    assert _campaign(app, s).status == "paused" and outbox.messages() == []


def test_a_scheduled_campaign_of_a_suspended_account_waits_paused(app, world, outbox):
    s = make_campaign(app, world, contacts=PEOPLE)
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        campaign.status, campaign.scheduled_at = "scheduled", datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
    _set_status(app, s, "client", "suspended")
    _sweep_and_run(app)
    assert _campaign(app, s).status == "paused" and outbox.messages() == []
    _set_status(app, s, "client", "active")
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
        control.resume(actor=None, campaign=campaign)
        db.session.commit()
    run_jobs(app)
    assert len(outbox.messages()) == 3 and _campaign(app, s).status == "sent"


def _set_status(app, s, who: str, status: str) -> None:
    with app.app_context(), all_tenants():
        model, row_id = (Client, s.client_id) if who == "client" else (Agency, s.agency_id)
        db.session.get(model, row_id).status = status
        db.session.commit()


@contextmanager
def _sending_past_the_first_message(app, s, relay: ScriptedRelay):
    """A worker thread sending the campaign through `relay`, from the moment the relay accepted a first
    message; stopped and joined on leaving. Yields the thread."""
    with running(relay) as port:
        _bind_relay(app, s, port)
        _start(app, s)
        stop = threading.Event()
        worker = threading.Thread(target=_send_until, args=(app, s, stop.is_set, stop))
        worker.start()
        deadline = time.monotonic() + 30
        while not relay.accepted and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            yield worker
        finally:
            stop.set()
            worker.join(30)


def test_cancel_mid_batch_leaves_no_row_pending_or_claimed(app, world, quick):
    people = [(f"p{i}@example.org", "P") for i in range(8)]
    s = make_campaign(app, world, contacts=people)
    relay = ScriptedRelay(data_delay=0.3)
    with _sending_past_the_first_message(app, s, relay):
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            control.cancel(
                actor=None, campaign=db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
            )
            db.session.commit()
        time.sleep(1.5)  # the worker notices within a third of its lease
    statuses = [v[0] for v in _rows(app, s).values()]
    assert "pending" not in statuses and "claimed" not in statuses
    assert statuses.count("sent") == sum(relay.accepted.values()) < len(people)
    assert _campaign(app, s).status == "cancelled"


def test_a_pause_stops_a_long_claim_without_waiting_for_the_lease_renewal(app, world, monkeypatch):
    """The default lease (renewed every 100 s) and one claim holding every row: the pause is still seen
    within the status interval, and what was not sent stays pending for the resume."""
    from portal.sending import lease as lease_module

    monkeypatch.setattr(lease_module, "STATUS_S", 0.2)
    people = [(f"p{i}@example.org", "P") for i in range(12)]
    s = make_campaign(app, world, contacts=people)
    relay = ScriptedRelay(data_delay=0.2)
    with _sending_past_the_first_message(app, s, relay) as worker:
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            control.pause(
                actor=None, campaign=db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id))
            )
            db.session.commit()
        deadline = time.monotonic() + 30
        while worker.is_alive() and time.monotonic() < deadline:
            if "claimed" not in [v[0] for v in _rows(app, s).values()]:
                break  # the worker gave its claim back
            time.sleep(0.1)
    statuses = [v[0] for v in _rows(app, s).values()]
    assert statuses.count("sent") == sum(relay.accepted.values()) < len(people) - 2
    assert statuses.count("pending") == len(people) - statuses.count("sent")
    assert _campaign(app, s).status == "paused"


# --- events pulled in bulk ----------------------------------------------------------------------------------


def test_pulled_events_are_recorded_once_per_client_source_and_id(app, world):
    s = make_campaign(app, world, contacts=PEOPLE[:1])
    _start(app, s)
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        delivery = db.session.scalar(select(Delivery))
        page = [
            {
                "delivery_id": delivery.id,
                "contact_id": delivery.contact_id,
                "campaign_id": s.campaign_id,
                "kind": kind,
                "provider_event_id": f"ev-{n}",
            }
            for n, kind in enumerate(("delivered", "open", "open"))
        ]
        first = events.record_pulled(client, "email-api", page + page[:1])  # a duplicate inside the page
        assert [r["provider_event_id"] for r in first] == ["ev-0", "ev-1", "ev-2"]
        assert events.record_pulled(client, "email-api", page) == []  # a second pull changes nothing
        assert len(events.record_pulled(client, "sms-gateway", page[:1])) == 1  # another source's id space
        db.session.commit()
        assert db.session.scalar(select(db.func.count(Event.id))) == 4


def test_a_claim_is_sized_to_last_about_two_seconds_at_the_workers_last_rate():
    from portal.sending.batches import BATCH_MAX, BATCH_MIN, next_batch

    assert next_batch(100, 100, 0.5) == 400  # 200 messages/s
    assert next_batch(100, 100, 0.01) == 100  # too quick to measure: unchanged
    assert next_batch(400, 400, 0.1) == BATCH_MAX  # a fast relay: capped
    assert next_batch(100, 100, 60) == BATCH_MIN  # a rate-limited relay: small claims
    assert next_batch(100, 0, 5) == 100  # nothing sent (all skipped or refused): unchanged
