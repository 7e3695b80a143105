"""The tenant bound to the current unit of work, and the ORM guard that enforces it.

DESIGN.md §3: a ContextVar holds the bound tenant; every ORM SELECT touching a tenant-scoped model is
filtered to it; with nothing bound such a query raises unless the code opted out with `all_tenants()`;
new rows are stamped with the tenant and rows of another tenant are refused at flush.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import Table, event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.sql import visitors


class TenantError(RuntimeError):
    """Raised when tenant-scoped data is touched without a tenant, or across tenants."""


@dataclass(frozen=True)
class Tenant:
    agency_id: int
    client_id: int | None = None


_current: ContextVar[Tenant | None] = ContextVar("portal_tenant", default=None)
_all_tenants: ContextVar[bool] = ContextVar("portal_all_tenants", default=False)


def current_tenant() -> Tenant | None:
    return _current.get()


@contextmanager
def bind_tenant(agency_id: int, client_id: int | None = None) -> Iterator[Tenant]:
    """Bind a tenant for the duration of a block (requests, jobs and CLI commands all use this)."""
    token = _current.set(Tenant(agency_id=agency_id, client_id=client_id))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def set_tenant(tenant: Tenant | None):
    """Bind for the rest of a request; returns the token for `reset_tenant` at teardown."""
    return _current.set(tenant)


def reset_tenant(token) -> None:
    _current.reset(token)


@contextmanager
def all_tenants() -> Iterator[None]:
    """Explicit, greppable opt-out of the tenant filter (platform back-office, maintenance, resolution)."""
    token = _all_tenants.set(True)
    try:
        yield
    finally:
        _all_tenants.reset(token)


def unscoped() -> bool:
    return _all_tenants.get()


def enter_all_tenants():
    """Request-long opt-out for the platform back-office blueprint; undone by `leave_all_tenants`."""
    from flask import g

    g.all_tenants_token = _all_tenants.set(True)


def leave_all_tenants(exc=None):
    from flask import g

    token = g.pop("all_tenants_token", None)
    if token is not None:
        try:
            _all_tenants.reset(token)
        except ValueError:
            _all_tenants.set(False)


class AgencyScoped:
    """Mixin marker: the model has a non-null `agency_id`."""

    __tenant_level__ = "agency"


class ClientFiltered:
    """Mixin marker: inside a client context only rows of the bound client are visible."""

    __client_filter_column__ = "client_id"


class ClientScoped(ClientFiltered, AgencyScoped):
    """Mixin marker: the model has `agency_id` and `client_id` (nullable only where documented)."""

    __tenant_level__ = "client"


def _mapped_subclasses(base: type) -> list[type]:
    found, stack = [], list(base.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if "__mapper__" in cls.__dict__ or hasattr(cls, "__table__"):
            found.append(cls)
    return sorted(set(found), key=lambda c: c.__name__)


def _scoped_mappers(state: ORMExecuteState) -> list[type]:
    found = [m.class_ for m in state.all_mappers if issubclass(m.class_, AgencyScoped)]
    if found:
        return found
    # `all_mappers` misses entities that appear only in FROM (`select(func.count()).select_from(User)`)
    # or inside a subquery (Flask-SQLAlchemy's paginate count): look for their tables in the statement.
    tables = {cls.__table__: cls for cls in _mapped_subclasses(AgencyScoped) if hasattr(cls, "__table__")}
    return list(
        {tables[el] for el in visitors.iterate(state.statement) if isinstance(el, Table) and el in tables}
    )


def _raw_tenant_tables(state: ORMExecuteState) -> set[str]:
    """Tenant tables the statement reaches only as plain Core tables. A table reached through its mapped
    class (an entity, one of its columns, `select_from(Model)`) carries the ORM's `parententity`
    annotation somewhere in the statement, and the loader criteria filter it; a bare `Model.__table__`
    does not, and nothing would."""
    tenant_tables = {cls.__table__ for cls in _mapped_subclasses(AgencyScoped) if hasattr(cls, "__table__")}
    touched: set[str] = set()
    through_entities: set[str] = set()
    # visitors.iterate only: get_final_froms() would be twenty times the cost, on every ORM query.
    for el in visitors.iterate(state.statement):
        entity = (getattr(el, "_annotations", None) or {}).get("parententity")
        if entity is not None:
            through_entities.add(entity.mapper.local_table.name)
        elif isinstance(el, Table) and el in tenant_tables:
            touched.add(el.name)
    return touched - through_entities


def _apply_filter(state: ORMExecuteState) -> None:
    if not state.is_select or state.is_column_load or state.is_relationship_load:
        # Column and relationship loads re-use the criteria of the statement that loaded the parent.
        return
    if _all_tenants.get() or state.execution_options.get("all_tenants"):
        return
    touched = _scoped_mappers(state)
    if not touched:
        return
    tenant = _current.get()
    if tenant is None:
        names = ", ".join(sorted({cls.__name__ for cls in touched}))
        raise TenantError(f"query on tenant-scoped model(s) {names} with no tenant bound")
    raw = _raw_tenant_tables(state)
    if raw:
        # with_loader_criteria filters mapped entities only: `select(Contact.__table__)` would return every
        # tenant's rows. Core SQL on tenant tables belongs in service helpers that filter by the tenant they
        # are given and say so with execution_options(all_tenants=True) (DESIGN §3.5).
        raise TenantError(
            f"Core SELECT on tenant table(s) {', '.join(sorted(raw))} is not filtered by the bound tenant: "
            "select the mapped class, or filter explicitly and pass execution_options(all_tenants=True)"
        )
    # Plain ints in the closure: SQLAlchemy caches the lambda and binds them as parameters. Criteria go on
    # every scoped mapped class so eager-loaded relationships are filtered too.
    agency_id, client_id = tenant.agency_id, tenant.client_id
    options = [
        with_loader_criteria(cls, lambda c: c.agency_id == agency_id, include_aliases=True)
        for cls in _mapped_subclasses(AgencyScoped)
    ]
    if client_id is not None:
        options += [
            with_loader_criteria(
                cls, lambda c: getattr(c, c.__client_filter_column__) == client_id, include_aliases=True
            )
            for cls in _mapped_subclasses(ClientFiltered)
        ]
    state.statement = state.statement.options(*options)


def _stamp_and_check(session: Session, flush_context, instances) -> None:
    if _all_tenants.get():
        return
    tenant = _current.get()
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, AgencyScoped):
            continue
        if tenant is None:
            if obj.agency_id is None and type(obj).__table__.c.agency_id.nullable:
                continue  # a platform row (operator account, platform audit event): no tenant to check
            raise TenantError(f"writing {type(obj).__name__} with no tenant bound")
        if obj in session.new and obj.agency_id is None:
            obj.agency_id = tenant.agency_id
        if obj.agency_id != tenant.agency_id:
            raise TenantError(f"{type(obj).__name__} belongs to another agency")
        if isinstance(obj, ClientScoped) and tenant.client_id is not None:
            if obj in session.new and obj.client_id is None:
                obj.client_id = tenant.client_id
            if obj.client_id is not None and obj.client_id != tenant.client_id:
                raise TenantError(f"{type(obj).__name__} belongs to another client")
    for obj in session.deleted:
        if isinstance(obj, AgencyScoped) and tenant is not None and obj.agency_id != tenant.agency_id:
            raise TenantError(f"deleting {type(obj).__name__} of another agency")


def install_guard(session_class: type[Session] = Session) -> None:
    """Attach the listeners once (idempotent: SQLAlchemy de-duplicates identical listeners)."""
    if not event.contains(session_class, "do_orm_execute", _apply_filter):
        event.listen(session_class, "do_orm_execute", _apply_filter)
        event.listen(session_class, "before_flush", _stamp_and_check)
