"""Adoption jobs: ids in; the adoption package does the work; the sweeper resumes stalled adoptions."""

from __future__ import annotations

from ..adoption.service import resume_stalled, run_adoption
from .runner import register


@register("adoption.run")
def run(job_run_id: int, adoption_id: int) -> str:
    return run_adoption(adoption_id, job_run_id)


@register("adoption.sweep")
def run_sweep() -> list[int]:
    return resume_stalled()
