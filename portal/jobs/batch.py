"""Batch-source jobs (nightly files over FTP/FTPS/SFTP): ids in, the batch package does the work."""

from __future__ import annotations

from ..batch.runs import run_batch
from ..batch.schedule import queue_due_runs
from .runner import register


@register("batch.run")
def run(job_run_id: int, batch_run_id: int) -> dict | None:
    return run_batch(batch_run_id, job_run_id)


@register("batch.due")
def run_due() -> list[int]:
    return queue_due_runs()
