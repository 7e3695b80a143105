"""The adoption's report: what was created, updated, found already there or skipped, and why — as rows
for the page and as a CSV file the job stores as its result (formula-safe cells, never the provider's
name: the white-label rule holds for files too)."""

from __future__ import annotations

from ..csvsafe import safe_cell
from ..jobs.results import ResultFile

HEADER = ["what", "name", "outcome", "count", "detail"]
MAX_RECIPIENT_ROWS = 100_000


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, int, str]] = []
        self.recipient_rows = 0

    def add(self, what: str, name: str, outcome: str, count: int, detail: str = "") -> None:
        self.rows.append((what, name, outcome, int(count), detail))

    def recipient(self, value: str, outcome: str, detail: str) -> None:
        """One recipient that could not be taken as it was (an invalid address, a suppressed one, …)."""
        self.recipient_rows += 1
        if self.recipient_rows <= MAX_RECIPIENT_ROWS:
            self.rows.append(("recipient", value, outcome, 1, detail))

    def summary(self) -> list[list]:
        return [list(r) for r in self.rows if r[0] != "recipient"]

    def write(self, run_id: int) -> str:
        out = ResultFile(run_id)
        out.writer.writerow(HEADER)
        for what, name, outcome, count, detail in self.rows:
            out.writer.writerow([what, safe_cell(name), outcome, count, safe_cell(detail)])
        if self.recipient_rows > MAX_RECIPIENT_ROWS:
            out.writer.writerow(
                ["recipient", "", "", self.recipient_rows - MAX_RECIPIENT_ROWS, "more not listed"]
            )
        return out.close()
