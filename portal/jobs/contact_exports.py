"""The contact export job (lists, segments, the suppression list): ids in, the export service works."""

from __future__ import annotations

from ..models import JobRun
from ..services.exports import JOB_NAME, run_export
from .runner import register


@register(JOB_NAME, owns={"job_run_id": JobRun})
def run(job_run_id: int, source: str, object_id: int | None = None) -> None:
    run_export(job_run_id, source, object_id)
