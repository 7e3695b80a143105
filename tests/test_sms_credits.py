"""The SMS credit ledger: pool → client → reserved → consumed/released, never below zero, balance rows
equal to the sums of the append-only entries — also with real concurrent debits (threads, each with its
own database connection; on PostgreSQL that is real row-lock contention)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Client, CreditEntry
from portal.sms import credits
from portal.sms.credits import NotEnoughCredits
from portal.tenancy import bind_tenant


def _client(world, key="A1"):
    return db.session.scalar(select(Client).where(Client.id == world.client_ids[key]))


def _consistent(agency_id, client_id):
    assert credits.balance(agency_id, client_id) == credits.ledger_balances(agency_id, client_id)


def test_pool_allocation_reservation_and_settlement_sum_exactly(app, world):
    ag = world.agency_ids["AG1"]
    with app.app_context(), bind_tenant(ag):
        client = _client(world)
        opening = credits.balance(ag, client.id).available  # the test world opens 10 per client
        credits.grant_pool(actor=None, agency_id=ag, amount=1000)
        credits.allocate(actor=None, client=client, amount=300)
        credits.reserve(agency_id=ag, client_id=client.id, amount=120, campaign_id=None)
        credits.settle(agency_id=ag, client_id=client.id, campaign_id=None, consumed=100, released=20)
        credits.revoke(actor=None, client=client, amount=50)
        db.session.commit()
        assert credits.balance(ag) == credits.Balance(750, 0)
        assert credits.balance(ag, client.id) == credits.Balance(opening + 300 - 100 - 50, 0)
        _consistent(ag, None)
        _consistent(ag, client.id)


def test_nothing_is_written_beyond_the_balance(app, world):
    ag = world.agency_ids["AG1"]
    with app.app_context(), bind_tenant(ag):
        client = _client(world)
        credits.grant_pool(actor=None, agency_id=ag, amount=100)
        db.session.commit()
        before = db.session.scalar(select(db.func.count()).select_from(CreditEntry))
        with pytest.raises(NotEnoughCredits, match="pool holds 100"):
            credits.allocate(actor=None, client=client, amount=101)
        with pytest.raises(NotEnoughCredits, match="only 10 are available"):
            credits.reserve(agency_id=ag, client_id=client.id, amount=11, campaign_id=None)
        db.session.rollback()
        assert db.session.scalar(select(db.func.count()).select_from(CreditEntry)) == before
        assert credits.balance(ag).available == 100


def test_existing_counters_become_opening_entries(app, world):
    """create_client's starting credits are an opening entry, like the migrated counters."""
    ag = world.agency_ids["AG2"]
    with app.app_context(), bind_tenant(ag):
        client = _client(world, "B1")
        kinds = [e.kind for e in credits.entries(ag, client.id)]
        assert kinds == ["opening"] and client.sms_credits == 10


def test_concurrent_reservations_never_overdraw(app, world):
    """Eight workers, two campaigns each, racing for 10 credits each of 25 in a 100-credit balance: exactly
    ten reservations win, the balance ends at 0 (never below), the entries sum to the row."""
    ag, cid = world.agency_ids["AG1"], world.client_ids["A1"]
    with app.app_context(), bind_tenant(ag):
        client = _client(world)
        credits.grant_pool(actor=None, agency_id=ag, amount=90)
        credits.allocate(actor=None, client=client, amount=90)  # 10 opening + 90 = 100
        db.session.commit()
    won, lost, errors = [], [], []
    start = threading.Barrier(8)

    def worker(n: int):
        with app.app_context(), bind_tenant(ag, cid):
            start.wait()
            for attempt in range(25):
                try:
                    credits.reserve(agency_id=ag, client_id=cid, amount=10, campaign_id=n % 2 + 1)
                    db.session.commit()
                    won.append((n, attempt))
                except NotEnoughCredits:
                    db.session.rollback()
                    lost.append((n, attempt))
                except Exception as exc:  # noqa: BLE001 — SQLite "database is locked": retried below
                    db.session.rollback()
                    errors.append(repr(exc))
            db.session.remove()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 10, (len(won), errors[:3])
    with app.app_context(), bind_tenant(ag):
        assert credits.balance(ag, cid) == credits.Balance(0, 100)
        _consistent(ag, cid)
