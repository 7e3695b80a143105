"""MailUp's date strings (§4.4): `2020-01-27 10:05:53Z` on DTOs, `2020-01-27 10:38:00.000` on opt-in dates."""

from __future__ import annotations

import re
from datetime import UTC, datetime


def fmt(ts: float | None, *, millis: bool = False) -> str | None:
    if ts is None:
        return None
    dt = datetime.fromtimestamp(ts, UTC)
    if millis:
        return dt.strftime("%Y-%m-%d %H:%M:%S.") + f"{dt.microsecond // 1000:03d}"
    return dt.strftime("%Y-%m-%d %H:%M:%SZ")


_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$",
    re.I,
)


def parse(text) -> float:
    """A send date in any form the sources show: quoted or not, ` ` or `T`, optional seconds, fraction,
    `Z` or offset (UTC when none, as the docs ask)."""
    raw = str(text).strip().strip('"').strip("'").strip()
    m = _DATE.match(raw)
    if not m:
        raise ValueError(f"invalid date: {text!r}")
    y, mo, d, h, mi, s, frac, zone = m.groups()
    dt = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), tzinfo=UTC)
    ts = dt.timestamp() + (float("0." + frac) if frac else 0.0)
    if zone and zone.upper() != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        ts -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return ts
