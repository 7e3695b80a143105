"""Checklist C21(d): idle and absolute session timeouts, with the clock moved (never slept).

Defaults: an operator's session idles out after 30 minutes (it opens every tenant), everybody else's after
an hour; every session ends 12 hours after sign-in however busy. All three are settings.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine

from portal.settings import Settings, SettingsError

from .support import client_for


def _signed_out(resp) -> bool:
    return resp.status_code == 302 and urlsplit(resp.location).path == "/login"


@pytest.mark.parametrize(
    ("key", "home", "idle"),
    [("admin", "/admin/", 30), ("AG1.owner", "/agency/", 60), ("A1.viewer", "/app/", 60)],
    ids=["operator", "agency", "client"],
)
def test_idle_timeout_by_role(app, world, key, home, idle):
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        c = client_for(app, world, key)
        assert c.get(home).status_code == 200
        clock.shift(timedelta(minutes=idle - 1))
        assert c.get(home).status_code == 200  # in use: the idle clock starts again here
        clock.shift(timedelta(minutes=idle - 1))
        assert c.get(home).status_code == 200  # well past `idle` since sign-in, but never idle that long
        clock.shift(timedelta(minutes=idle + 1))
        assert _signed_out(c.get(home))
        assert _signed_out(c.get(home))  # and it stays out


def test_operator_idle_timeout_is_shorter_than_everybody_elses(app, world):
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        operator, owner = client_for(app, world, "admin"), client_for(app, world, "AG1.owner")
        clock.shift(timedelta(minutes=31))
        assert _signed_out(operator.get("/admin/"))
        assert owner.get("/agency/").status_code == 200


def test_absolute_timeout_ends_even_a_busy_session(app, world):
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        c = client_for(app, world, "AG1.owner")
        for _ in range(14):  # a page every 50 minutes: never idle, 11 h 40 in all
            clock.shift(timedelta(minutes=50))
            assert c.get("/agency/").status_code == 200
        clock.shift(timedelta(minutes=25))  # 12 h 05 after sign-in, 25 minutes after the last page
        assert _signed_out(c.get("/agency/"))


def test_timeouts_follow_the_settings(app, world, monkeypatch):
    configured = dataclasses.replace(
        app.config["PORTAL_SETTINGS"],
        session_idle_minutes=5,
        operator_session_idle_minutes=2,
        session_max_hours=1,
    )
    monkeypatch.setitem(app.config, "PORTAL_SETTINGS", configured)
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        operator, owner = client_for(app, world, "admin"), client_for(app, world, "AG1.owner")
        clock.shift(timedelta(minutes=3))
        assert _signed_out(operator.get("/admin/"))
        assert owner.get("/agency/").status_code == 200
        for _ in range(15):  # busy, but 63 minutes after sign-in at the end
            clock.shift(timedelta(minutes=4))
            resp = owner.get("/agency/")
        assert _signed_out(resp)


def test_timeout_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s" * 32)
    monkeypatch.setenv("PORTAL_ENCRYPTION_KEYS", "x")
    monkeypatch.setenv("PORTAL_SESSION_IDLE_MINUTES", "45")
    monkeypatch.setenv("PORTAL_OPERATOR_SESSION_IDLE_MINUTES", "10")
    monkeypatch.setenv("PORTAL_SESSION_MAX_HOURS", "8")
    s = Settings.from_env()
    assert (s.session_idle_minutes, s.operator_session_idle_minutes, s.session_max_hours) == (45, 10, 8)
    monkeypatch.setenv("PORTAL_OPERATOR_SESSION_IDLE_MINUTES", "0")
    with pytest.raises(SettingsError, match="PORTAL_OPERATOR_SESSION_IDLE_MINUTES"):
        Settings.from_env()


def test_timeout_defaults():
    fields = {f.name: f.default for f in dataclasses.fields(Settings)}
    assert fields["operator_session_idle_minutes"] == 30
    assert fields["session_idle_minutes"] == 60
    assert fields["session_max_hours"] == 12
