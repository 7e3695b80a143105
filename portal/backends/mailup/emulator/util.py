"""Small helpers shared by the emulator's modules."""

from __future__ import annotations


def get_ci(d: dict, name: str, default=None):
    """`d[name]` with the key matched case-insensitively (MailUp's JSON and query names are)."""
    if name in d:
        return d[name]
    low = name.lower()
    return next((v for k, v in d.items() if isinstance(k, str) and k.lower() == low), default)


def flag(value) -> bool:
    """A boolean query or form value: 1/true/yes/on, quoted or not, any case."""
    return str(value).strip().strip('"').lower() in ("1", "true", "yes", "on")
