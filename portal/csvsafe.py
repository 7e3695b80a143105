"""Spreadsheet formula injection guard for every CSV the portal writes (checklist E33)."""

from __future__ import annotations

# A cell starting with one of these is a formula to Excel/LibreOffice (full-width forms included).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0", "＝", "＋", "－", "＠")


def safe_cell(value: object) -> str:
    """The cell as text, prefixed with a quote when it would start a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text
