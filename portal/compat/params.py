"""The parameters of a compatible-endpoint call as the callers send them: names in any case (`List`,
`list`, `LIST`), in the query string, in a form body, or both (one plugin POSTs with every parameter in
the query string and an empty body); an empty value counts as absent, so `List=&list=5` means 5."""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import request

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _body_pairs() -> list[tuple[str, str]]:
    if request.method != "POST":
        return []
    if request.mimetype in FORM_TYPES:
        return list(request.form.items(multi=True))
    # Some scripts post `a=1&b=2` with another content type (text/plain, none at all).
    body = request.get_data(cache=True, as_text=True) or ""
    return parse_qsl(body, keep_blank_values=True) if "=" in body else []


def read_params() -> dict[str, str]:
    """Lower-cased names → first non-empty value (as sent, unstripped), the query string first, then
    the body."""
    merged: dict[str, str] = {}
    for name, value in [*request.args.items(multi=True), *_body_pairs()]:
        if value and value.strip():
            merged.setdefault(name.strip().lower(), value)
    return merged


def flag(value: str | None, default: bool) -> bool:
    """1/true/yes/on (any case, quoted or not) → True; 0/false/no/off → False; absent → default."""
    if value is None:
        return default
    text = value.strip().strip('"').lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    return default


def ids(value: str | None) -> list[int] | None:
    """`1,2` or `1;2` → [1, 2]; absent → []; anything not a number → None."""
    if value is None:
        return []
    out = []
    for part in value.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit():
            return None
        out.append(int(part))
    return out
