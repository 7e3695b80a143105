"""Typed custom-field values: text, number, date, boolean, choice. Stored as JSON scalars."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

MAX_TEXT = 1000
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_EU_DATE = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")  # day first: the Italian/European habit
TRUE = {"1", "true", "yes", "y", "si", "sì", "x", "on"}
FALSE = {"0", "false", "no", "n", "off"}


class FieldValueError(ValueError):
    pass


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    kind: str = "text"
    choices: tuple[str, ...] = ()


def convert(spec: FieldSpec, raw: str):
    """Return the JSON value for `raw` (already stripped, non-empty) or raise FieldValueError."""
    kind = spec.kind
    if kind == "text":
        if len(raw) > MAX_TEXT:
            raise FieldValueError(f"longer than {MAX_TEXT} characters")
        return raw
    if kind == "number":
        if not _NUMBER.match(raw.replace(" ", "")):
            raise FieldValueError("not a number")
        value = float(raw.replace(" ", "").replace(",", "."))
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if kind == "date":
        return _date(raw)
    if kind == "boolean":
        lowered = raw.lower()
        if lowered in TRUE:
            return True
        if lowered in FALSE:
            return False
        raise FieldValueError("not yes/no (use 1/0, yes/no or true/false)")
    if kind == "choice":
        for choice in spec.choices:
            if raw.casefold() == choice.casefold():
                return choice
        raise FieldValueError("not one of: " + ", ".join(spec.choices))
    raise FieldValueError(f"unknown field type {kind}")


def _date(raw: str) -> str:
    m = _ISO_DATE.match(raw)
    if m:
        y, mo, d = (int(x) for x in m.groups())
    else:
        m = _EU_DATE.match(raw)
        if not m:
            raise FieldValueError("not a date (use YYYY-MM-DD or DD/MM/YYYY)")
        d, mo, y = (int(x) for x in m.groups())
    try:
        return date(y, mo, d).isoformat()
    except ValueError as exc:
        raise FieldValueError(f"not a valid date ({exc})") from exc


def converter(spec: FieldSpec):
    """A one-argument function for the hot loop of imports (no per-row dispatch on the kind)."""
    if spec.kind == "text":

        def text_value(raw: str) -> str:
            if len(raw) > MAX_TEXT:
                raise FieldValueError(f"longer than {MAX_TEXT} characters")
            return raw

        return text_value
    return lambda raw: convert(spec, raw)
