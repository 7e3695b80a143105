"""Server-drawn stacked bar chart of entries per day (SVG: no script, nothing for the CSP to block)."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT = 900, 180


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    reason: str
    day: str
    count: int


def bars(data: dict) -> tuple[list[Bar], int]:
    """Rectangles for `services.suppression.daily_counts` data, and the tallest day's total."""
    days = data["days"]
    series = data["series"]
    totals = [sum(values[i] for values in series.values()) for i in range(len(days))]
    peak = max(totals, default=0)
    if not days or peak == 0:
        return [], 0
    slot = WIDTH / len(days)
    width = max(slot * 0.8, 1.0)
    out = []
    for i, day in enumerate(days):
        bottom = float(HEIGHT)
        for reason, values in series.items():
            count = values[i]
            if not count:
                continue
            height = HEIGHT * count / peak
            bottom -= height
            out.append(
                Bar(
                    round(i * slot + (slot - width) / 2, 2),
                    round(bottom, 2),
                    round(width, 2),
                    round(height, 2),
                    reason,
                    day,
                    count,
                )
            )
    return out, peak
