"""Checklist I55: Redis (rate limits and the job queue) is down. Sign-in still works — rate limits fall
back to per-process limits in memory, logged — pages that need the queue answer a clear 503 with
nothing half-started, and the back-office says the queue is unreachable. Redis here is a port nobody
listens on: the real client, refused for real."""

from __future__ import annotations

import dataclasses
import logging
import socket

import pytest
from sqlalchemy import func, select

from portal import create_app
from portal.extensions import db, limiter
from portal.models import JobRun
from portal.tenancy import all_tenants

from .support import PASSWORD, HostClient

# Flask-Limiter keeps one storage per process (the last app initialised): given back to the suite's app.
LIMITER_STATE = (
    "_storage",
    "_limiter",
    "_storage_dead",
    "_fallback_limiter",
    "_fallback_storage",
    "_Limiter__check_backend_count",
    "_Limiter__last_check_backend",
)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # released at once: nothing listens there


@pytest.fixture
def down(settings, app):
    saved = {name: getattr(limiter, name, None) for name in LIMITER_STATE}
    dead = create_app(dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{_closed_port()}/0"))
    yield dead
    for name, value in saved.items():
        setattr(limiter, name, value)


def _login(app, world, user_key):
    c = HostClient(app, world.host_of(user_key))
    c.login(world.users[user_key])
    return c


@pytest.mark.parametrize("user_key,home", [("A1.admin", "/app/"), ("admin", "/admin/")])
def test_sign_in_works_while_redis_is_down(down, world, caplog, user_key, home):
    with caplog.at_level(logging.WARNING):
        c = _login(down, world, user_key)  # the operator's includes the two-factor step
        page = c.get(home)
    assert page.status_code == 200
    assert any("falling back to in-memory storage" in r.getMessage() for r in caplog.records)


def test_sign_in_attempts_are_still_limited_in_memory(down, world):
    c = HostClient(down, world.hosts["AG1"])
    token = c.csrf("/login")
    wrong = {"email": world.users["A1.admin"], "password": "wrong " + PASSWORD, "csrf_token": token}
    codes = [c.post("/login", wrong).status_code for _ in range(12)]
    assert codes[0] == 200 and 429 in codes, codes  # degraded to a per-address limit, not switched off


def _job_runs(app) -> int:
    with app.app_context(), all_tenants():
        return db.session.scalar(select(func.count()).select_from(JobRun))


def test_a_page_that_needs_the_queue_answers_503(down, world, caplog):
    c = _login(down, world, "A1.admin")
    with caplog.at_level(logging.WARNING):
        resp = c.post("/app/exports", {"source": "suppression"}, csrf_path="/app/imports")
    assert resp.status_code == 503
    body = resp.get_data(as_text=True)
    assert "cannot be reached right now" in body and "Traceback" not in body and "redis" not in body.lower()
    # 60 s, as the rate limiter's header pass rewrites it: counted down from its own clock (59 or 60)
    assert 55 <= int(resp.headers.get("Retry-After")) <= 60
    assert _job_runs(down) == 0  # nothing left waiting for a job that was never queued
    assert any("queue unavailable" in r.getMessage() for r in caplog.records)


def test_json_polling_answers_503_too(down, world):
    c = _login(down, world, "A1.admin")
    resp = c.post(
        "/app/exports",
        {"source": "suppression"},
        csrf_path="/app/imports",
        headers={"Accept": "application/json"},
    )
    assert resp.status_code == 503 and resp.get_json() == {"error": "Service Unavailable", "status": 503}


def test_the_back_office_shows_the_queue_is_unreachable(down, world):
    c = _login(down, world, "admin")
    overview = c.get("/admin/")
    assert overview.status_code == 200 and "Redis is unreachable" in overview.get_data(as_text=True)
    jobs = c.get("/admin/jobs")
    assert jobs.status_code == 200 and "Redis cannot be reached" in jobs.get_data(as_text=True)
