"""The one entry point RQ calls. It creates the app once per worker process, binds the tenant, runs the
registered job function, commits, and always cleans the session."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from ..extensions import db
from ..tenancy import all_tenants, bind_tenant
from .tenant_check import foreign_ids, record_mismatch

JOBS: dict[str, Callable[..., object]] = {}
# job name -> {keyword: model}: the ids a job receives that must belong to the tenant it was queued for
OWNED_IDS: dict[str, dict] = {}
_app: Flask | None = None


def register(name: str, owns: dict | None = None):
    """Decorator: make a function runnable as a job under a stable name (job ids and args stay JSON).

    `owns` names the keyword ids that point at tenant-owned rows (`{"campaign_id": Campaign}`): a job
    whose ids belong to another tenant than the one it was queued for does nothing (tenant_check.py)."""

    def decorator(func):
        JOBS[name] = func
        OWNED_IDS[name] = owns or {}
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
                foreign = foreign_ids(OWNED_IDS.get(name, {}), agency_id, client_id, kwargs)
                if foreign:
                    record_mismatch(name, agency_id, client_id, foreign)
                    return None
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
    from ..forms import jobs as forms_jobs  # noqa: F401
    from . import adoption, batch, contact_exports, exports, imports, mail, providers, sending, sms, webhooks  # noqa: F401
