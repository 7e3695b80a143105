"""The provider-side send through the provider's faults: a token that expires in the middle of a sync, a
storm of 429s, a 500 on a call that must not be repeated blindly (then recovery) — each ends with one
group, one message, one sending, and every recipient sent once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.models import Campaign
from portal.providers import send as provider_send
from portal.sending.sweeper import sweep
from portal.tenancy import bind_tenant

from .mailup_backend_support import (  # noqa: F401 (fixtures)
    ACCOUNT,
    campaign_row,
    counts,
    deliveries,
    emulator_fixture,
    mailup_campaign,
    run_jobs,
    start,
)

MANY = [(f"p{i:02d}@example.org", f"P{i}") for i in range(30)]


def _once_each(app, s, handle, n: int) -> None:
    account = handle.state.account(ACCOUNT.username)
    assert counts(account) == (1, 1, 1)
    assert sorted(d["address"] for d in handle.state.deliveries(ACCOUNT.username)) == sorted(
        a for a, _ in MANY[:n]
    )
    assert campaign_row(app, s).status == "sent"
    assert {status for status, _ in deliveries(app, s).values()} == {"sent"}


def test_a_token_expiring_mid_sync_is_renewed_and_the_sync_goes_on(app, world, emulator, monkeypatch):
    url, handle = emulator
    s = mailup_campaign(app, world, url, people=MANY)
    monkeypatch.setattr(
        provider_send.MailupCampaign, "__init__", _small_batches(provider_send.MailupCampaign)
    )
    real = provider_send.MailupCampaign._save

    def expire_after_first_batch(self, state, updates):
        real(self, state, updates)
        if updates.get("pushed_through") and not getattr(expire_after_first_batch, "done", False):
            expire_after_first_batch.done = True
            handle.state.expire_tokens()  # the next call answers 401: renew once, retry

    monkeypatch.setattr(provider_send.MailupCampaign, "_save", expire_after_first_batch)
    refresh_tokens_before = set(handle.state.refresh_tokens)
    start(app, s)
    run_jobs(app)

    assert expire_after_first_batch.done
    assert len(handle.state.account(ACCOUNT.username).imports) == 3  # 10 + 10 + 10
    assert set(handle.state.refresh_tokens) != refresh_tokens_before  # a renewal happened
    _once_each(app, s, handle, 30)


def _small_batches(cls):
    init = cls.__init__

    def __init__(self, client, list_id, **kw):
        init(self, client, list_id, **{**kw, "sync_max": 5, "import_batch": 10})

    return __init__


def test_a_storm_of_429s_is_waited_out(app, world, emulator):
    url, handle = emulator
    s = mailup_campaign(app, world, url, people=MANY[:3])
    handle.state.inject_fault(429, count=4)  # fewer than the retries of one call
    start(app, s)
    run_jobs(app)
    assert campaign_row(app, s).backend_failures == 0
    _once_each(app, s, handle, 3)


def test_a_500_on_a_create_then_recovery_makes_one_group(app, world, emulator):
    url, handle = emulator
    s = mailup_campaign(app, world, url, people=MANY[:3])
    handle.state.inject_fault(500, count=1, path="/group")  # the group create: outcome unknown
    start(app, s)
    run_jobs(app)
    campaign = campaign_row(app, s)
    assert campaign.status == "sending" and campaign.backend_failures == 1
    assert campaign.provider_state.get("group_pending") and not campaign.provider_state.get("group_id")
    assert "mailup" not in (campaign.message or "").lower()

    with app.app_context(), bind_tenant(s.agency_id, s.client_id):  # the backoff's wait is over
        db.session.scalar(select(Campaign).where(Campaign.id == s.campaign_id)).retry_at = datetime.now(
            UTC
        ) - timedelta(seconds=1)
        db.session.commit()
    with app.app_context():
        assert sweep()["requeued"] == 1
    run_jobs(app)
    _once_each(app, s, handle, 3)
