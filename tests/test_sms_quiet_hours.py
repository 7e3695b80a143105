"""Quiet hours: no SMS at night in the recipient's country; the campaign waits and resumes. The window is
placed around the present moment in Rome (and away from it in New York), so the test does not depend on
when it runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from portal.extensions import db
from portal.models import Campaign, Client, Delivery
from portal.sending.control import queue_send_jobs
from portal.sms.client_settings import set_quiet_hours
from portal.sms.quiet import in_window, quiet_until
from portal.sms.sending import start_sms_send
from portal.tenancy import bind_tenant

from .sms_support import setup_client, start_gateway
from .support import client_for, run_jobs
from .test_sms_sending import _campaign

ROME, NEW_YORK = "+393471234567", "+12125550123"


def _hhmm(dt: datetime) -> str:
    return dt.strftime("%H:%M")


def test_window_arithmetic():
    assert in_window(22 * 60, 21 * 60, 9 * 60) and in_window(8 * 60, 21 * 60, 9 * 60)
    assert not in_window(12 * 60, 21 * 60, 9 * 60) and not in_window(9 * 60, 21 * 60, 9 * 60)
    night = datetime(2026, 12, 1, 22, 30, tzinfo=ZoneInfo("Europe/Rome"))
    assert quiet_until(ROME, (21 * 60, 9 * 60), "UTC", night) == datetime(
        2026, 12, 2, 9, 0, tzinfo=ZoneInfo("Europe/Rome")
    )
    # The same instant is 16:30 in New York: no quiet hours there.
    assert quiet_until(NEW_YORK, (21 * 60, 9 * 60), "UTC", night) is None


def test_a_campaign_waits_for_the_end_of_the_quiet_hours_and_then_sends(app, world):
    url, gateway = start_gateway()
    try:
        s = setup_client(app, world, "A1", url, [ROME, NEW_YORK])
        rome_now = datetime.now(UTC).astimezone(ZoneInfo("Europe/Rome"))
        start, end = rome_now - timedelta(minutes=30), rome_now + timedelta(minutes=30)
        ny_now = datetime.now(UTC).astimezone(ZoneInfo("America/New_York"))
        # New York is six hours behind Rome: its present moment is outside a one-hour window around Rome's.
        assert not in_window(
            ny_now.hour * 60 + ny_now.minute, start.hour * 60 + start.minute, end.hour * 60 + end.minute
        )
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            client = db.session.scalar(select(Client).where(Client.id == s.client_id))
            set_quiet_hours(actor=None, client=client, start=_hhmm(start), end=_hhmm(end))
            db.session.commit()
        cid = _campaign(app, s, "Hello")
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            client = db.session.scalar(select(Client).where(Client.id == s.client_id))
            start_sms_send(actor=None, client=client, campaign=db.session.get(Campaign, cid))
            db.session.commit()
        run_jobs(app)
        assert [m.to for m in gateway.state.messages] == [NEW_YORK]  # daytime there
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            rome = db.session.scalar(select(Delivery).where(Delivery.address == ROME))
            assert (rome.status, rome.attempts) == ("pending", 0)
            assert rome.retry_after > datetime.now(UTC)
            assert rome.error == "waiting for the end of the quiet hours"
            assert db.session.get(Campaign, cid).status == "sending"
            # The quiet hours end (the client turns them off, and the wait is over): the next run sends.
            client = db.session.scalar(select(Client).where(Client.id == s.client_id))
            set_quiet_hours(actor=None, client=client, start="", end="")
            db.session.execute(update(Delivery).where(Delivery.id == rome.id).values(retry_after=None))
            db.session.commit()
            queue_send_jobs(db.session.get(Campaign, cid), generation="after-quiet")
            db.session.commit()
        run_jobs(app)
        assert sorted(m.to for m in gateway.state.messages) == sorted([NEW_YORK, ROME])
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            assert db.session.get(Campaign, cid).status == "sent"
    finally:
        gateway.stop()


def test_quiet_hours_form_checks_its_times(app, world):
    admin = client_for(app, world, "A1.admin")
    bad = admin.post(
        "/app/sms/quiet-hours",
        {"start": "25:00", "end": "09:00"},
        csrf_path="/app/sms",
        follow_redirects=True,
    )
    assert "give a start and an end time as HH:MM" in bad.get_data(as_text=True)
    ok = admin.post(
        "/app/sms/quiet-hours",
        {"start": "21:00", "end": "09:00"},
        csrf_path="/app/sms",
        follow_redirects=True,
    )
    assert "Quiet hours saved." in ok.get_data(as_text=True) and 'value="21:00"' in ok.get_data(as_text=True)
    editor = client_for(app, world, "A1.editor")
    assert editor.post(
        "/app/sms/quiet-hours", {"start": "", "end": ""}, csrf_path="/app/sms"
    ).status_code in (403, 404)
