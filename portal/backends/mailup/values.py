"""Reading MailUp's loosely typed values: numbers that may come as strings, booleans as "true", the same
id under two casings, and the date formats of §4.4 and §15.2."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone


def to_int(value) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(str(value).strip().strip('"'))
    except ValueError:
        return None


def flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def pick(data: Mapping, *keys, default=None):
    for key in keys:
        if key in data and data[key] is not None:
            return data[key]
    return default


_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$",
    re.I,
)


def parse_date(text) -> datetime | None:
    """A date in the forms MailUp writes (§4.4, §15.2): `2020-01-27 10:05:53Z`, `2020-01-27 10:38:00.000`
    (UTC), `2012-09-12T11:18:37.664+02`; None when empty or unreadable."""
    m = _DATE.match(str(text or "").strip().strip('"'))
    if not m:
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    tz = UTC
    if zone and zone.upper() != "Z":
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        tz = timezone(offset if zone[0] == "+" else -offset)
    micro = int((frac or "0").ljust(6, "0")[:6])
    return datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micro, tzinfo=tz)


def format_date(when: datetime) -> str:
    """`yyyy-MM-dd HH:mm:ssZ` in UTC (the wrapper's DEFAULT_DATETIME_FRMT, §4.4). A naive datetime is
    refused: a send time must not depend on the server's time zone."""
    if when.tzinfo is None:
        raise ValueError("a send time needs a time zone")
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
