"""Field types inferred from the values an account holds (its personal fields are all strings, §7.1).

A tally per field counts its non-empty values and how many of them read as each type; a type is chosen
only when every value reads as it, so no value is lost or changed by the conversion. Numbers with a
leading zero (postal codes, customer codes) stay text: a number field would drop the zero.
"""

from __future__ import annotations

import re

from ..imports.values import FALSE, TRUE, FieldSpec, FieldValueError, convert

_NUMBER = re.compile(r"^[+-]?(0|[1-9]\d*)([.,]\d+)?$")
_WORDS = (TRUE | FALSE) - {"0", "1"}  # 0/1 alone are numbers; yes/no words make a yes/no field
NONEMPTY, NUMBER, DATE, BOOLEAN = range(4)
_DATE_SPEC = FieldSpec("date", "date", "date")


def tally_values(tally: dict, key: str, value: str) -> None:
    """Count one value of field `key` into `tally` ({key: [non-empty, numbers, dates, yes/no]}). Runs for
    every value of the account, so it tries each type only where the first character allows it."""
    value = value.strip()
    if not value:
        return
    counts = tally.get(key)
    if counts is None:
        counts = tally[key] = [0, 0, 0, 0]
    counts[NONEMPTY] += 1
    first = value[0]
    if first.isdigit() or first in "+-":
        if len(value) <= 15 and _NUMBER.match(value):
            counts[NUMBER] += 1
        elif 8 <= len(value) <= 10:
            try:
                convert(_DATE_SPEC, value)
                counts[DATE] += 1
            except FieldValueError:
                pass
    elif value.lower() in _WORDS:
        counts[BOOLEAN] += 1


def infer_kind(counts: list[int] | None) -> str:
    if not counts or not counts[NONEMPTY]:
        return "text"
    for kind, index in (("date", DATE), ("number", NUMBER), ("boolean", BOOLEAN)):
        if counts[index] == counts[NONEMPTY]:
            return kind
    return "text"


def merge_tallies(into: dict, other: dict) -> dict:
    for key, counts in other.items():
        mine = into.setdefault(key, [0, 0, 0, 0])
        for i, n in enumerate(counts):
            mine[i] += n
    return into
