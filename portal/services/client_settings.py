"""A client admin's own settings: display name, time zone, default phone region. Quotas stay with the
agency (portal.services.clients.update_client)."""

from __future__ import annotations

import re
from functools import lru_cache
from zoneinfo import available_timezones

from babel import Locale
from flask_babel import gettext as _

from ..models import Client, User
from . import DomainError
from .audit import record

# CLDR territory codes that are not countries (regions, the EU, private-use codes, "unknown").
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"}
_ALPHA2 = re.compile(r"^[A-Z]{2}$")
_TZ_SKIP = ("Etc/", "SystemV/", "US/", "posix", "right", "Factory")


@lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    """Canonical IANA zones (Area/City) plus UTC, sorted."""
    zones = {z for z in available_timezones() if "/" in z and not z.startswith(_TZ_SKIP)}
    return tuple(sorted(zones | {"UTC"}))


@lru_cache(maxsize=8)
def regions(locale: str = "en") -> tuple[tuple[str, str], ...]:
    """(ISO 3166-1 alpha-2 code, country name in `locale`) sorted by name."""
    names = Locale.parse(locale).territories
    pairs = [
        (code, name) for code, name in names.items() if _ALPHA2.match(code) and code not in _NOT_COUNTRIES
    ]
    return tuple(sorted(pairs, key=lambda p: p[1].casefold()))


def is_region(code: str) -> bool:
    return code in {c for c, _name in regions("en")}


def update_client_settings(
    *, actor: User, client: Client, name: str, timezone: str, default_region: str
) -> bool:
    """Apply the changes; returns whether anything changed. Audited as client.settings_updated."""
    name = (name or "").strip()
    default_region = (default_region or "").strip().upper()
    if not name:
        raise DomainError(_("The account needs a name."))
    if len(name) > 120:
        raise DomainError(_("The name can be at most 120 characters long."))
    if timezone not in time_zones():
        raise DomainError(_("Choose a time zone from the list."))
    if not is_region(default_region):
        raise DomainError(_("Choose a country from the list."))
    changes = {}
    for attr, value in (("name", name), ("timezone", timezone), ("default_region", default_region)):
        old = getattr(client, attr)
        if old != value:
            changes[attr] = f"{old} → {value}"
            setattr(client, attr, value)
    # Recorded even without changes: an admin who reviewed and confirmed the settings ticks the checklist.
    record(
        "client.settings_updated",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=client.slug,
        **changes,
    )
    return bool(changes)
