"""Contact import jobs: ids in, the import service does the work; the sweeper ends imports whose worker died."""

from __future__ import annotations

from ..imports.sweeper import sweep
from ..models import ContactImport, JobRun
from ..services.imports import run_import
from .runner import register


@register("imports.run", owns={"job_run_id": JobRun, "import_id": ContactImport})
def run(job_run_id: int, import_id: int) -> dict | None:
    outcome = run_import(import_id, job_run_id)
    return outcome.as_dict() if outcome else None


@register("imports.sweep")
def run_sweep() -> dict:
    return sweep()
