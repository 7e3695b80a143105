"""Quiet hours: no SMS at night in the recipient's country. The window is the client's (minutes after
local midnight, wrapping past midnight when it starts later than it ends); the time zone is the number's
(libphonenumber's time zones for the number; the client's own zone when the number's country spans
several or is unknown). Pure functions: the delivery loop asks, per recipient, until when to wait."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_timezones


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_of(number: str, fallback: str, now: datetime) -> ZoneInfo:
    """The number's zone; when libphonenumber names several (Rome and the Vatican, or the time zones of
    the USA for a mobile number) they count as one if their clocks agree now, else the fallback."""
    try:
        names = number_timezones.time_zones_for_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        names = ()
    zones = [z for z in (_zone(n) for n in names if n != "Etc/Unknown") if z is not None]
    if zones and len({now.astimezone(z).utcoffset() for z in zones}) == 1:
        return zones[0]
    return _zone(fallback) or ZoneInfo("UTC")


def in_window(minute: int, start: int, end: int) -> bool:
    if start == end:
        return False
    return start <= minute < end if start < end else minute >= start or minute < end


def quiet_until(
    number: str, window: tuple[int, int] | None, fallback_zone: str, now: datetime
) -> datetime | None:
    """None when the number may be sent to now; else the (aware) moment its quiet hours end."""
    if window is None:
        return None
    start, end = window
    local = now.astimezone(zone_of(number, fallback_zone, now))
    minute = local.hour * 60 + local.minute
    if not in_window(minute, start, end):
        return None
    ends = local.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
    if ends <= local:
        ends += timedelta(days=1)
    return ends


def parse_hhmm(value: str) -> int:
    """'21:30' → 1290; ValueError for anything else."""
    hours, _, minutes = (value or "").strip().partition(":")
    h, m = int(hours), int(minutes or 0)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ValueError(value)
    return h * 60 + m


def format_hhmm(minutes: int | None) -> str:
    return "" if minutes is None else f"{minutes // 60:02d}:{minutes % 60:02d}"
