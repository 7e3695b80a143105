"""Paging, `filterby` and `orderby` over the items of a collection (reference §4.1, §4.2, §20.3, §20.7).

`filterby` accepts what the known clients send, with or without the surrounding double quotes:
`Email=='x@y'`, `Email.Contains('x')`, `IdList == 51`, `Fields['nome']=='Ann'`, joined by `&&`, `&`,
`||`, `and`, `or`, negated with `!`, grouped in parentheses. Property names are matched case-insensitively
and strings compare case-insensitively, as on MailUp's SQL Server. `orderby` takes `Key [asc|desc]`
terms joined by `;` or `,`.
"""

from __future__ import annotations

import re

DEFAULT_PAGE_SIZE = 20
# The largest pageSize answered; a larger one is served at this size (the wrapper says so). MailUp does not
# state its own cap (reference §21): clients must follow PageSize/Skipped, not assume theirs was honoured.
MAX_PAGE_SIZE = 1000


class QueryError(ValueError):
    """A filter, ordering or paging parameter the emulator (like MailUp) cannot parse: a 400."""


def page(items: list, page_number: int, page_size: int) -> dict:
    """The paged wrapper; a page past the end is an empty, harmless page."""
    if page_number < 0 or page_size <= 0:
        raise QueryError("pageNumber must be >= 0 and pageSize > 0")
    total = len(items)
    skipped = page_number * page_size
    return {
        "IsPaginated": total > page_size,
        "Items": items[skipped : skipped + page_size],
        "PageNumber": page_number,
        "PageSize": page_size,
        "Skipped": skipped,
        "TotalElementsCount": total,
    }


def _strip_quotes(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].strip()
    return text


# --- orderby ---------------------------------------------------------------------------------------------


def order(items: list[dict], expression: str | None) -> list[dict]:
    if not expression or not expression.strip():
        return items
    terms = []
    for raw in re.split(r"[;,]", _strip_quotes(expression)):
        words = raw.split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise QueryError(f"invalid orderby term: {raw.strip()!r}")
        terms.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    result = list(items)
    for name, descending in reversed(terms):  # stable sorts, last key first
        path = [p for p in name.split(".") if p]
        result.sort(key=lambda item, path=path: _sort_key(_resolve(item, path)), reverse=descending)
    return result


def _sort_key(value):
    if value is None:
        return (0, 0, "")
    if isinstance(value, bool | int | float):
        return (1, value, "")
    return (2, 0, str(value).lower())


# --- filterby --------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<op>==|!=|<>|<=|>=|&&|\|\||[<>!&|().\[\],=])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, object]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise QueryError(f"invalid filterby expression near {text[pos : pos + 20]!r}")
        pos = m.end()
        if m.group("str") is not None:
            s = m.group("str")
            body = s[1:-1].replace("''", "'") if s[0] == "'" else s[1:-1]
            out.append(("lit", re.sub(r"\\(.)", r"\1", body)))
        elif m.group("num") is not None:
            n = m.group("num")
            out.append(("lit", float(n) if "." in n else int(n)))
        elif m.group("op") is not None:
            out.append(("op", m.group("op")))
        else:
            word = m.group("name")
            low = word.lower()
            if low in ("and", "andalso"):
                out.append(("op", "&&"))
            elif low in ("or", "orelse"):
                out.append(("op", "||"))
            elif low == "not":
                out.append(("op", "!"))
            elif low in ("true", "false"):
                out.append(("lit", low == "true"))
            elif low == "null":
                out.append(("lit", None))
            else:
                out.append(("name", word))
    return out


class _Parser:
    """Recursive descent into closures `item -> value`."""

    def __init__(self, tokens):
        self.t = tokens
        self.i = 0

    def peek(self, *ops):
        if self.i < len(self.t) and self.t[self.i][0] == "op" and self.t[self.i][1] in ops:
            return self.t[self.i][1]
        return None

    def take(self, *ops):
        op = self.peek(*ops)
        if op is None:
            got = self.t[self.i][1] if self.i < len(self.t) else "end of expression"
            raise QueryError(f"invalid filterby expression: expected {' or '.join(ops)}, got {got!r}")
        self.i += 1
        return op

    def parse(self):
        node = self.or_()
        if self.i != len(self.t):
            raise QueryError(f"invalid filterby expression: unexpected {self.t[self.i][1]!r}")
        return node

    def or_(self):
        left = self.and_()
        while self.peek("||", "|"):
            self.i += 1
            right = self.and_()
            left = (lambda a, b: lambda it: _truth(a(it)) or _truth(b(it)))(left, right)
        return left

    def and_(self):
        left = self.not_()
        while self.peek("&&", "&"):
            self.i += 1
            right = self.not_()
            left = (lambda a, b: lambda it: _truth(a(it)) and _truth(b(it)))(left, right)
        return left

    def not_(self):
        if self.peek("!"):
            self.i += 1
            inner = self.not_()
            return lambda it: not _truth(inner(it))
        return self.cmp()

    def cmp(self):
        left = self.primary()
        op = self.peek("==", "=", "!=", "<>", "<", "<=", ">", ">=")
        if not op:
            return left
        self.i += 1
        right = self.primary()
        return lambda it: _compare(op, left(it), right(it))

    def primary(self):
        if self.i >= len(self.t):
            raise QueryError("invalid filterby expression: unexpected end")
        kind, value = self.t[self.i]
        if kind == "op" and value == "(":
            self.i += 1
            node = self.or_()
            self.take(")")
            return node
        if kind == "lit":
            self.i += 1
            return lambda it, v=value: v
        if kind != "name":
            raise QueryError(f"invalid filterby expression: unexpected {value!r}")
        return self.path()

    def path(self):
        steps: list = [self.t[self.i][1]]
        self.i += 1
        method = None
        while True:
            if self.peek("."):
                self.i += 1
                if self.i >= len(self.t) or self.t[self.i][0] != "name":
                    raise QueryError("invalid filterby expression after '.'")
                name = self.t[self.i][1]
                self.i += 1
                if self.peek("("):
                    method = name
                    break
                steps.append(name)
            elif self.peek("["):
                self.i += 1
                kind, key = self.t[self.i] if self.i < len(self.t) else ("", None)
                if kind != "lit":
                    raise QueryError("invalid filterby expression: expected a literal inside [ ]")
                self.i += 1
                self.take("]")
                steps.append(("index", key))
            else:
                break
        getter = lambda it, steps=steps: _resolve(it, steps)  # noqa: E731
        if method is None:
            return getter
        self.take("(")
        args = []
        if not self.peek(")"):
            args.append(self.or_())
            while self.peek(","):
                self.i += 1
                args.append(self.or_())
        self.take(")")
        return _method(method, getter, args)


def _method(name: str, getter, args):
    low = name.lower()
    if low in ("contains", "startswith", "endswith", "equals") and len(args) == 1:
        arg = args[0]

        def call(it):
            value, needle = getter(it), arg(it)
            if value is None or needle is None:
                return False
            v, n = str(value).lower(), str(needle).lower()
            return {
                "contains": n in v,
                "startswith": v.startswith(n),
                "endswith": v.endswith(n),
                "equals": v == n,
            }[low]

        return call
    if low in ("tolower", "toupper", "trim") and not args:
        conv = {"tolower": str.lower, "toupper": str.upper, "trim": str.strip}[low]
        return lambda it: None if getter(it) is None else conv(str(getter(it)))
    raise QueryError(f"unsupported method in filterby: {name}")


def _resolve(item, steps):
    """Follow a property path; a first step naming no property (`recipient.Email`) is the item itself."""
    value = item
    for n, step in enumerate(steps):
        if isinstance(step, tuple):  # Fields['nome'] / Fields[3]
            key = step[1]
            if isinstance(value, list):
                value = _field_value(value, key)
            elif isinstance(value, dict):
                value = _get_ci(value, str(key))
            else:
                return None
            continue
        if not isinstance(value, dict):
            return None
        found = _get_ci(value, step, missing=KeyError)
        if found is KeyError:
            if n == 0 and len(steps) > 1:
                continue
            raise QueryError(f"unknown property in filterby/orderby: {step}")
        value = found
    return value


def _get_ci(d: dict, name: str, missing=None):
    if name in d:
        return d[name]
    low = name.lower()
    for k, v in d.items():
        if k.lower() == low:
            return v
    return missing


def _field_value(fields: list, key):
    for f in fields:
        if not isinstance(f, dict):
            continue
        if isinstance(key, int) and f.get("Id") == key:
            return f.get("Value")
        if isinstance(key, str) and str(f.get("Description", "")).lower() == key.lower():
            return f.get("Value")
    return None


def _truth(value) -> bool:
    return bool(value)


def _norm(a, b):
    """Numbers compare as numbers (a numeric string against a number too); strings case-insensitively."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a, b
    if isinstance(a, int | float) and isinstance(b, str):
        try:
            return a, float(b)
        except ValueError:
            return str(a), b.lower()
    if isinstance(b, int | float) and isinstance(a, str):
        try:
            return float(a), b
        except ValueError:
            return a.lower(), str(b)
    if isinstance(a, str) and isinstance(b, str):
        return a.lower(), b.lower()
    return a, b


def _compare(op, a, b) -> bool:
    if op in ("==", "="):
        return _norm(a, b)[0] == _norm(a, b)[1] if a is not None and b is not None else a is b
    if op in ("!=", "<>"):
        return not _compare("==", a, b)
    if a is None or b is None:
        return False
    x, y = _norm(a, b)
    try:
        return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
    except TypeError:
        return False


def compile_filter(expression: str | None):
    if not expression or not expression.strip():
        return None
    return _Parser(_tokens(_strip_quotes(expression))).parse()


def apply(items: list[dict], filterby: str | None, orderby: str | None) -> list[dict]:
    predicate = compile_filter(filterby)
    if predicate is not None:
        items = [it for it in items if _truth(predicate(it))]
    return order(items, orderby)
