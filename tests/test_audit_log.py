"""Checklist G39: the audit log is append-only — the ORM refuses to change or delete a row, no code in
portal/ tries, and on PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE from anybody; work done
while "acting as client" names both the staff member and the client."""

from __future__ import annotations

import dataclasses
import os
import re
import uuid

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, delete, select, text, update
from sqlalchemy.exc import DBAPIError

from portal import create_app
from portal.extensions import db
from portal.models import AuditEvent
from portal.services.audit import AuditLogError, record
from portal.settings import ROOT
from portal.tenancy import all_tenants, bind_tenant

from .support import client_for
from .test_migrations import keep_logging  # noqa: F401 (fixture)


def _one_event(app, world) -> int:
    with app.app_context(), bind_tenant(world.agency_ids["AG1"]):
        row = record("list.created", actor=None, agency_id=world.agency_ids["AG1"], target="Newsletter")
        db.session.commit()
        return row.id


def test_an_audit_row_cannot_be_changed_through_the_orm(app, world):
    event_id = _one_event(app, world)
    with app.app_context(), all_tenants():
        row = db.session.get(AuditEvent, event_id)
        row.target = "something else"
        with pytest.raises(AuditLogError):
            db.session.commit()
        db.session.rollback()
        row = db.session.get(AuditEvent, event_id)
        db.session.delete(row)
        with pytest.raises(AuditLogError):
            db.session.commit()
        db.session.rollback()
        for statement in (
            update(AuditEvent).where(AuditEvent.id == event_id).values(target="x"),
            delete(AuditEvent).where(AuditEvent.id == event_id),
        ):
            with pytest.raises(AuditLogError):
                db.session.execute(statement)
            db.session.rollback()
        assert db.session.get(AuditEvent, event_id).target == "Newsletter"


def test_reading_and_adding_rows_still_works(app, world):
    event_id = _one_event(app, world)
    with app.app_context(), all_tenants():
        row = db.session.get(AuditEvent, event_id)
        _ = row.details, row.target  # loading attributes is not a change
        db.session.commit()
        assert db.session.scalar(select(AuditEvent.target).where(AuditEvent.id == event_id)) == "Newsletter"


CHANGE = re.compile(r"\b(update|delete)\(\s*AuditEvent\b|\b(UPDATE|DELETE FROM|TRUNCATE)\s+\"?audit_event\b")


def test_no_code_path_updates_or_deletes_the_audit_log():
    offenders = []
    for path in (ROOT / "portal").rglob("*.py"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if CHANGE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


def test_acting_as_client_names_the_staff_member_and_the_client(app, world):
    staff = client_for(app, world, "AG1.staff")
    a1 = world.client_ids["A1"]
    assert staff.post(f"/agency/clients/{a1}/act", csrf_path=f"/agency/clients/{a1}").status_code == 302
    resp = staff.post("/app/lists/new", {"name": "Made while acting", "email_enabled": "y"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    with app.app_context(), all_tenants():
        act = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "client.act_as")).one()
        made = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "list.created")).one()
    staff_email = world.users["AG1.staff"]
    for row in (act, made):
        assert row.actor_email == staff_email and row.actor_id == world.user_ids["AG1.staff"]
        assert row.client_id == a1
        assert row.details.get("acting_as_client") == "Client A1"
    # The client's own users leave no such mark.
    own = client_for(app, world, "A1.admin")
    assert own.post("/app/lists/new", {"name": "Made by the client", "email_enabled": "y"}).status_code == 302
    with app.app_context(), all_tenants():
        mine = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "list.created", AuditEvent.target == "Made by the client"
            )
        ).one()
    assert "acting_as_client" not in mine.details


@pytest.fixture
def migrated_pg(settings, keep_logging):  # noqa: F811
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set: the audit trigger exists on PostgreSQL only")
    schema = f"audit_{uuid.uuid4().hex[:10]}"
    engine = create_engine(base.split("?")[0])
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    app = create_app(dataclasses.replace(settings, database_url=url))
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        db.engine.dispose()
    yield create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def test_postgresql_refuses_update_delete_and_truncate(migrated_pg):
    with migrated_pg.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_event (action, actor_email, target, ip, details, created_at) "
                "VALUES ('login.failed', '', 'x@y.z', '', '{}', now())"
            )
        )
    for sql in (
        "UPDATE audit_event SET target = 'forged'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            with migrated_pg.begin() as conn:
                conn.execute(text(sql))
    with migrated_pg.connect() as conn:
        assert conn.execute(text("SELECT target FROM audit_event")).scalars().all() == ["x@y.z"]
    migrated_pg.dispose()
