"""The ORM tenant guard (portal/tenancy.py, DESIGN.md §3, checklist B13/B14): fails closed with no tenant,
filters every SELECT (joins, joined loads, counts) to the bound agency or client, stamps new rows, refuses
rows of another tenant at flush, and leaves nothing bound after a request or a job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from portal.extensions import db
from portal.jobs import runner
from portal.models import (
    ActionToken,
    Agency,
    AuditEvent,
    Client,
    Connection,
    Domain,
    JobRun,
    Membership,
    User,
)
from portal.services.audit import record
from portal.tenancy import TenantError, all_tenants, bind_tenant, current_tenant, unscoped

from .support import HostClient, client_for

SCOPED_MODELS = (Client, Membership, JobRun, Connection, User, AuditEvent, ActionToken)


@pytest.fixture
def ctx(app, world):
    """An app context with extra rows in every tenant: a connection per agency, job runs per client and
    one agency-level job run in AG1."""
    with app.app_context():
        ids = {}
        with all_tenants():
            for key in ("AG1", "AG2"):
                conn = Connection(agency_id=world.agency_ids[key], kind="smtp", name=f"conn {key}")
                db.session.add(conn)
                db.session.flush()
                ids[f"conn.{key}"] = conn.id
            for ck, ak in (("A1", "AG1"), ("A2", "AG1"), ("B1", "AG2"), (None, "AG1")):
                run = JobRun(
                    agency_id=world.agency_ids[ak],
                    client_id=world.client_ids[ck] if ck else None,
                    kind="export",
                    queue="default",
                    rq_job_id=f"test-{ck or ak}",
                )
                db.session.add(run)
                db.session.flush()
                ids[f"run.{ck or ak}"] = run.id
            for ak, uk in (("AG1", "A1.admin"), ("AG2", "B1.admin")):
                token = ActionToken(
                    agency_id=world.agency_ids[ak],
                    user_id=world.user_ids[uk],
                    purpose="reset",
                    token_hash=(ak.lower() * 32)[:64],
                    expires_at=datetime.now(UTC) + timedelta(hours=1),
                )
                db.session.add(token)
                db.session.flush()
                ids[f"token.{ak}"] = token.id
        db.session.commit()
        db.session.expunge_all()
        world.extra = ids
        yield world
        db.session.rollback()
        db.session.remove()


def _agency_ids(rows) -> set[int | None]:
    return {r.agency_id for r in rows}


# --- fails closed -------------------------------------------------------------------------------


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
def test_query_without_tenant_raises(ctx, model):
    assert current_tenant() is None
    with pytest.raises(TenantError):
        db.session.scalars(select(model)).all()


@pytest.mark.parametrize(
    "stmt",
    [
        lambda: select(func.count()).select_from(Client),
        lambda: select(func.count(Client.id)),
        lambda: select(Agency.name).join(Client, Client.agency_id == Agency.id),
        lambda: select(Client.name).where(Client.id == 1),
    ],
    ids=["count-select-from", "count-column", "join-from-unscoped", "column-only"],
)
def test_counts_columns_and_joins_without_tenant_raise(ctx, stmt):
    with pytest.raises(TenantError):
        db.session.execute(stmt()).all()


def test_core_select_on_a_tenant_table_is_refused(ctx):
    """with_loader_criteria filters mapped entities only: a bare Table through the session would return
    every agency's rows, so the guard refuses it, alone or joined to a mapped class."""
    table = Client.__table__
    with bind_tenant(ctx.agency_ids["AG1"]):
        with pytest.raises(TenantError, match="Core SELECT on tenant table"):
            db.session.execute(select(table)).all()
        with pytest.raises(TenantError, match="client"):
            db.session.execute(select(Agency.id).join(table, table.c.agency_id == Agency.id)).all()
        # Through the mapped class it is filtered, whatever the shape of the statement.
        assert db.session.scalar(select(func.count()).select_from(Client)) == 2
        # Code that filters by hand says so explicitly.
        mine = db.session.execute(
            select(table.c.id).where(table.c.agency_id == ctx.agency_ids["AG1"]),
            execution_options={"all_tenants": True},
        ).all()
    assert len(mine) == 2


def test_session_get_without_tenant_raises(ctx):
    with pytest.raises(TenantError):
        db.session.get(Client, ctx.client_ids["A1"])


def test_platform_models_are_not_scoped(ctx):
    """Agency and Domain are resolved before any tenant is known (the host lookup)."""
    assert len(db.session.scalars(select(Agency)).all()) == 2
    assert len(db.session.scalars(select(Domain)).all()) == 2


# --- agency bound -------------------------------------------------------------------------------


def test_agency_bound_sees_only_its_rows(ctx):
    ag1, ag2 = ctx.agency_ids["AG1"], ctx.agency_ids["AG2"]
    with bind_tenant(ag1):
        for model in SCOPED_MODELS:
            rows = db.session.scalars(select(model)).unique().all()
            assert rows, f"no {model.__name__} rows visible in AG1"
            assert _agency_ids(rows) == {ag1}, model.__name__
        names = set(db.session.scalars(select(Client.name)))
        assert names == {"Client A1", "Client A2"}
        assert db.session.scalar(select(func.count()).select_from(Client)) == 2
        assert db.session.scalar(select(func.count(Client.id))) == 2
        assert db.session.scalar(select(func.count()).select_from(Connection)) == 1
        # The platform admin (agency_id NULL) is not a user of AG1.
        assert ctx.users["admin"] not in set(db.session.scalars(select(User.email)))
        # Another agency's row by id: missing, exactly like a row that does not exist.
        b1 = ctx.client_ids["B1"]
        assert db.session.scalar(select(Client).where(Client.id == b1)) is None
        assert db.session.get(Client, b1) is None
        assert db.session.get(Connection, ctx.extra["conn.AG2"]) is None
    with bind_tenant(ag2):
        assert set(db.session.scalars(select(Client.name))) == {"Client B1"}


def test_agency_bound_filters_joins_and_joined_loads(ctx):
    ag1 = ctx.agency_ids["AG1"]
    b1 = ctx.client_ids["B1"]
    with bind_tenant(ag1):
        # Joining from an unscoped model still filters the scoped side.
        rows = db.session.execute(
            select(Agency.id, Client.id).join(Client, Client.agency_id == Agency.id)
        ).all()
        assert {r[0] for r in rows} == {ag1} and len(rows) == 2
        # Explicit join to another agency's client id: nothing.
        q = select(User).join(Membership, Membership.user_id == User.id).where(Membership.client_id == b1)
        assert db.session.scalars(q).unique().all() == []
        # Joined eager load (User.membership is lazy="joined") and an explicit selectinload.
        users = db.session.scalars(select(User).options(joinedload(User.membership))).unique().all()
        assert users and all(u.membership is not None and u.membership.agency_id == ag1 for u in users)
        db.session.expunge_all()
        members = db.session.scalars(select(Membership).options(selectinload(Membership.user))).all()
        assert members and {m.user.agency_id for m in members} == {ag1}
        # A join whose ON clause would reach AG2 rows: criteria on both sides keep it in AG1.
        cross = db.session.execute(
            select(Client.id, JobRun.id).join(JobRun, JobRun.agency_id != Client.agency_id)
        ).all()
        assert cross == []


def test_lazy_relationship_load_stays_in_tenant(ctx):
    """A lazy load of a relationship (ActionToken.user) inherits the bound tenant's criteria."""
    ag1 = ctx.agency_ids["AG1"]
    with bind_tenant(ag1):
        tok = db.session.scalar(select(ActionToken).where(ActionToken.id == ctx.extra["token.AG1"]))
        assert tok is not None and tok.user.email == ctx.users["A1.admin"]


# --- client bound -------------------------------------------------------------------------------


def test_client_bound_sees_only_its_rows(ctx):
    ag1, a1 = ctx.agency_ids["AG1"], ctx.client_ids["A1"]
    with all_tenants():
        record("test.a1", actor=None, agency_id=ag1, client_id=a1)
        record("test.a2", actor=None, agency_id=ag1, client_id=ctx.client_ids["A2"])
        db.session.commit()
    db.session.expunge_all()
    with bind_tenant(ag1, a1):
        assert [c.id for c in db.session.scalars(select(Client))] == [a1]
        assert db.session.scalar(select(func.count()).select_from(Client)) == 1
        assert db.session.scalar(select(Client).where(Client.id == ctx.client_ids["A2"])) is None
        members = db.session.scalars(select(Membership)).all()
        assert members and {m.client_id for m in members} == {a1}
        assert len(members) == 3  # admin, editor, viewer of A1; agency memberships are hidden too
        runs = db.session.scalars(select(JobRun)).all()
        assert [r.id for r in runs] == [ctx.extra["run.A1"]]  # not A2's, not the agency-level one
        assert db.session.scalar(select(func.count()).select_from(JobRun)) == 1
        events = db.session.scalars(select(AuditEvent)).all()
        assert events and {e.client_id for e in events} == {a1}
        assert {e.agency_id for e in events} == {ag1}


# --- opt-out ------------------------------------------------------------------------------------


def test_all_tenants_only_inside_the_block(ctx):
    with all_tenants():
        assert unscoped()
        assert len(db.session.scalars(select(Client)).all()) == 3
        assert len(db.session.scalars(select(JobRun)).all()) == 4
    assert not unscoped()
    with pytest.raises(TenantError):
        db.session.scalars(select(Client)).all()
    # Nested inside a bound tenant the opt-out still ends with its block.
    with bind_tenant(ctx.agency_ids["AG1"]):
        with all_tenants():
            assert len(db.session.scalars(select(Client)).all()) == 3
        assert len(db.session.scalars(select(Client)).all()) == 2


# --- writes -------------------------------------------------------------------------------------


def test_new_rows_are_stamped_with_the_bound_tenant(ctx):
    ag1, a1 = ctx.agency_ids["AG1"], ctx.client_ids["A1"]
    with bind_tenant(ag1):
        conn = Connection(kind="smtp", name="stamped")
        db.session.add(conn)
        db.session.flush()
        assert conn.agency_id == ag1
    with bind_tenant(ag1, a1):
        run = JobRun(kind="export", queue="default", rq_job_id="stamped-run")
        db.session.add(run)
        db.session.flush()
        assert (run.agency_id, run.client_id) == (ag1, a1)
    db.session.rollback()


def test_writing_without_tenant_raises(ctx):
    db.session.add(Connection(kind="smtp", name="orphan", agency_id=ctx.agency_ids["AG1"]))
    with pytest.raises(TenantError):
        db.session.flush()
    db.session.rollback()


def test_adding_a_row_of_another_agency_raises(ctx):
    with bind_tenant(ctx.agency_ids["AG1"]):
        db.session.add(Connection(kind="smtp", name="smuggled", agency_id=ctx.agency_ids["AG2"]))
        with pytest.raises(TenantError, match="another agency"):
            db.session.flush()
    db.session.rollback()


def test_adding_a_row_of_another_client_raises(ctx):
    with bind_tenant(ctx.agency_ids["AG1"], ctx.client_ids["A1"]):
        db.session.add(
            JobRun(kind="export", queue="default", rq_job_id="smuggled", client_id=ctx.client_ids["A2"])
        )
        with pytest.raises(TenantError, match="another client"):
            db.session.flush()
    db.session.rollback()


def test_updating_a_row_of_another_agency_raises(ctx):
    with all_tenants():
        b1 = db.session.scalar(select(Client).where(Client.id == ctx.client_ids["B1"]))
    with bind_tenant(ctx.agency_ids["AG1"]):
        b1.name = "hijacked"
        with pytest.raises(TenantError):
            db.session.flush()
    db.session.rollback()
    with all_tenants():
        assert db.session.scalar(select(Client.name).where(Client.id == ctx.client_ids["B1"])) == "Client B1"


def test_moving_a_row_to_another_agency_raises(ctx):
    with bind_tenant(ctx.agency_ids["AG1"]):
        conn = db.session.scalar(select(Connection))
        conn.agency_id = ctx.agency_ids["AG2"]
        with pytest.raises(TenantError):
            db.session.flush()
    db.session.rollback()


def test_deleting_a_row_of_another_agency_raises(ctx):
    with all_tenants():
        conn = db.session.scalar(select(Connection).where(Connection.id == ctx.extra["conn.AG2"]))
    with bind_tenant(ctx.agency_ids["AG1"]):
        db.session.delete(conn)
        with pytest.raises(TenantError):
            db.session.flush()
    db.session.rollback()


# --- nothing stays bound ------------------------------------------------------------------------


def test_context_is_reset_after_requests(app, world):
    for key, path in (("A1.admin", "/app/"), ("AG1.owner", "/agency/"), ("admin", "/admin/")):
        c = client_for(app, world, key)
        assert c.get(path).status_code == 200
        assert current_tenant() is None, f"tenant leaked after a request as {key}"
        assert not unscoped(), f"all_tenants leaked after a request as {key}"
    # Error paths too: unknown host, 404 on a known host, redirect of an anonymous user.
    HostClient(app, "attacker.test").get("/login")
    HostClient(app, world.hosts["AG1"]).get("/nowhere")
    HostClient(app, world.hosts["AG1"]).get("/app/")
    assert current_tenant() is None and not unscoped()


def test_context_is_reset_after_jobs(app, world):
    seen = []

    def probe(**kwargs):
        seen.append(current_tenant())
        if kwargs.get("fail"):
            raise RuntimeError("job failed")

    runner.JOBS["test.probe"] = probe
    try:
        ag1, a1 = world.agency_ids["AG1"], world.client_ids["A1"]
        runner.execute("test.probe", ag1, a1, {})
        assert seen[-1].agency_id == ag1 and seen[-1].client_id == a1
        assert current_tenant() is None
        with pytest.raises(RuntimeError):
            runner.execute("test.probe", ag1, None, {"fail": True})
        assert current_tenant() is None and not unscoped()
        runner.execute("test.probe", None, None, {})
        assert seen[-1] is None and not unscoped()
    finally:
        runner.JOBS.pop("test.probe", None)
