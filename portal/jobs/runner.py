"""The one entry point RQ calls. It creates the app once per worker process, binds the tenant, runs the
registered job function, commits, and always cleans the session."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from ..extensions import db
from ..tenancy import all_tenants, bind_tenant

JOBS: dict[str, Callable[..., object]] = {}
_app: Flask | None = None


def register(name: str):
    """Decorator: make a function runnable as a job under a stable name (job ids and args stay JSON)."""

    def decorator(func):
        JOBS[name] = func
        return func

    return decorator


def set_app(app: Flask) -> None:
    """Tests and the in-process dev worker hand over their app instead of building one from the env."""
    global _app
    _app = app


def get_app() -> Flask:
    global _app
    if _app is None:
        from .. import create_app

        _app = create_app()
    return _app


def execute(name: str, agency_id: int | None, client_id: int | None, kwargs: dict) -> object:
    _load_job_modules()
    func = JOBS[name]
    app = get_app()
    with app.app_context():
        try:
            if agency_id is None:
                with all_tenants():
                    result = func(**kwargs)
            else:
                with bind_tenant(agency_id, client_id):
                    result = func(**kwargs)
            db.session.commit()
            return result
        except BaseException:
            db.session.rollback()
            raise
        finally:
            db.session.remove()


def _load_job_modules() -> None:
    # Importing registers the jobs; kept here so the worker needs no list of its own.
    from . import contact_exports, exports, imports, mail, providers, sending  # noqa: F401
