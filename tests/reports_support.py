"""Helpers for the reports tests: a campaign really sent through the pipeline, then events added as rows
(the events are the data under test; recording them from providers is another module's job)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from portal.extensions import db
from portal.models import Campaign, Client, Delivery, Event
from portal.sending import control
from portal.tenancy import bind_tenant

from .sending_support import Setup, make_campaign
from .support import run_jobs

_ids = itertools.count(1)


def sent_campaign(app, world, emails: list[str], client_key: str = "A1", started_ago=None) -> Setup:
    """A campaign sent to `emails` through the real jobs and SMTP capture server."""
    s = make_campaign(app, world, contacts=[(e, "") for e in emails], client_key=client_key)
    start(app, s)
    run_jobs(app)
    if started_ago is not None:
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            db.session.execute(
                update(Campaign)
                .where(Campaign.id == s.campaign_id)
                .values(started_at=datetime.now(UTC) - started_ago)
            )
            db.session.commit()
    return s


def start(app, s: Setup, campaign_id: int | None = None) -> int:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        client = db.session.scalar(select(Client).where(Client.id == s.client_id))
        campaign = db.session.scalar(select(Campaign).where(Campaign.id == (campaign_id or s.campaign_id)))
        n = control.start_send(actor=None, client=client, campaign=campaign)
        db.session.commit()
        return n


def deliveries(app, s: Setup, campaign_id: int | None = None) -> dict[str, int]:
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        rows = db.session.execute(
            select(Delivery.address, Delivery.id).where(
                Delivery.campaign_id == (campaign_id or s.campaign_id)
            )
        )
        return dict(rows.all())


def add_events(app, s: Setup, events: list[tuple], campaign_id: int | None = None) -> None:
    """events: (email, kind, extra) with extra a dict of Event columns, plus "after" (a timedelta from the
    campaign start) for the event time."""
    cid = campaign_id or s.campaign_id
    ids = deliveries(app, s, cid)
    with app.app_context(), bind_tenant(s.agency_id, s.client_id):
        started = db.session.scalar(select(Campaign.started_at).where(Campaign.id == cid))
        for email, kind, *rest in events:
            extra = dict(rest[0]) if rest else {}
            after = extra.pop("after", timedelta(minutes=5))
            db.session.add(
                Event(
                    agency_id=s.agency_id,
                    client_id=s.client_id,
                    campaign_id=cid,
                    delivery_id=ids.get(email),
                    kind=kind,
                    provider_event_id=f"test-{next(_ids)}-{kind}",
                    created_at=started + after,
                    **extra,
                )
            )
        db.session.commit()
