"""Checklist G40: what a real 500 shows with the production error handler on — the generic page, no
trace, no SQL, no secret — and a reference id that is in the log line with the traceback."""

from __future__ import annotations

import dataclasses
import logging
import re

import pytest

from portal import create_app
from portal.extensions import db
from portal.jobs.runner import set_app
from portal.models import User
from portal.tenancy import all_tenants

from .support import HostClient

SECRET = "s3cr3t-dsn-password"


@pytest.fixture
def production_app(settings, app):
    prod = create_app(dataclasses.replace(settings, testing=False))

    def broken_view():
        # A real fault inside a view, with something secret in the exception text.
        raise RuntimeError(f"cannot connect to postgresql://portal:{SECRET}@db/portal")

    prod.add_url_rule("/boom", "boom", broken_view)
    prod.add_url_rule("/boom.json", "boom_json", broken_view)
    yield prod
    set_app(app)  # the jobs runner keeps the suite's app


def _signed_in(app, world, user_key):
    c = HostClient(app, world.host_of(user_key))
    c.login(world.users[user_key])
    return c


@pytest.mark.parametrize("user_key", ["A1.admin", "admin"])
def test_a_real_500_shows_the_generic_page_with_a_logged_reference(production_app, world, caplog, user_key):
    assert not production_app.testing and not production_app.debug
    c = _signed_in(production_app, world, user_key)
    with caplog.at_level(logging.ERROR, logger=production_app.logger.name):
        resp = c.get("/boom")
    assert resp.status_code == 500
    body = resp.get_data(as_text=True)
    assert "Something went wrong on our side" in body
    for leak in (SECRET, "postgresql://", "Traceback", "RuntimeError", "broken_view", "SECRET_KEY"):
        assert leak not in body, leak
    ref = re.search(r"Reference: ([0-9a-f]{12})", body)
    assert ref, body[-600:]
    logged = [r for r in caplog.records if ref.group(1) in r.getMessage()]
    assert logged and logged[0].exc_info is not None, "the reference must be in the log with the trace"
    assert "no-store" in resp.headers.get("Cache-Control", "")


def test_a_real_500_on_json_has_the_reference_and_nothing_else(production_app, world, caplog):
    c = _signed_in(production_app, world, "A1.admin")
    with caplog.at_level(logging.ERROR, logger=production_app.logger.name):
        resp = c.get("/boom.json")
    assert resp.status_code == 500 and resp.mimetype == "application/json"
    data = resp.get_json()
    assert set(data) == {"error", "status", "reference"} and SECRET not in resp.get_data(as_text=True)
    assert any(data["reference"] in r.getMessage() for r in caplog.records)


def test_the_error_page_is_translated(production_app, world):
    with production_app.app_context(), all_tenants():
        db.session.get(User, world.user_ids["A1.admin"]).locale = "it"
        db.session.commit()
    c = _signed_in(production_app, world, "A1.admin")
    resp = c.get("/boom")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 500 and "Riferimento" in body
