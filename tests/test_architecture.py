"""Architecture rules that keep the isolation layers honest (DESIGN.md §3, §4)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PORTAL = Path(__file__).resolve().parent.parent / "portal"
# Raw/Core SQL bypasses the ORM tenant filter, so it may only live in service-level helpers that take the
# tenant as an argument (DESIGN.md §3 point 5) — never in a web module: one that makes a blueprint or
# declares routes (views, pages, API resources). Feature packages keep their set-based services next to
# their views; the next test checks that each of those statements names its client.
ROUTE_DECORATORS = {"route", "get", "post", "put", "patch", "delete", "before_request", "errorhandler"}
# Schema definitions (index expressions) and the guard itself are not queries.
NOT_QUERIES = ("models/", "tenancy.py")


def _python_files():
    return [p for p in PORTAL.rglob("*.py") if "__pycache__" not in p.parts]


def _is_web_module(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
            "Blueprint",
            "APIBlueprint",
        ):
            return True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if isinstance(target, ast.Attribute) and target.attr in ROUTE_DECORATORS:
                    return True
    return False


def test_core_sql_only_in_tenant_taking_service_helpers():
    offenders = []
    web_modules = 0
    for path in _python_files():
        rel = path.relative_to(PORTAL).as_posix()
        if rel.startswith(NOT_QUERIES):
            continue
        tree = ast.parse(path.read_text())
        if not _is_web_module(tree):
            continue
        web_modules += 1
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", "")) == "text"
            ):
                offenders.append(f"{rel}:{node.lineno} text()")
            if isinstance(node, ast.Attribute) and node.attr == "__table__":
                offenders.append(f"{rel}:{node.lineno} __table__")
    assert web_modules > 20, "the web-module detection found too few blueprints/views to be trusted"
    assert not offenders, "Core SQL in a web module:\n" + "\n".join(offenders)


def test_text_sql_in_services_names_its_tenant():
    """Every raw statement touching a client-owned table says which client (a bound :cid) or is a temp table."""
    client_tables = ("contact", "subscription", "suppression", "mailing_list", "field", "segment")
    problems = []
    for path in _python_files():
        rel = path.relative_to(PORTAL).as_posix()
        if rel.startswith(NOT_QUERIES):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", "")) in ("text", "q")
            ):
                continue
            sql = (
                " ".join(
                    part.value
                    for part in ast.walk(node.args[0])
                    if isinstance(part, ast.Constant) and isinstance(part.value, str)
                )
                if node.args
                else ""
            )
            touches = [
                t for t in client_tables if re.search(rf"\b(FROM|INTO|UPDATE|JOIN)\s+{t}\b", sql, re.I)
            ]
            if touches and "client_id" not in sql and "import_stage" not in sql:
                problems.append(f"{rel}:{node.lineno} {touches}: {sql[:80]}")
    assert not problems, "raw SQL on client tables without a client id:\n" + "\n".join(problems)


def test_jobs_receive_primitive_arguments_only():
    """Job functions registered with the runner take ids and plain values, never ORM objects."""
    from portal.jobs.runner import JOBS, _load_job_modules

    _load_job_modules()
    for name, func in JOBS.items():
        for param, annotation in func.__annotations__.items():
            if param == "return":
                continue
            assert annotation in (
                "int",
                "str",
                "int | None",
                "str | None",
                "bool",
                "dict",
                "list[int]",
            ) or annotation in (int, str, bool, dict), f"job {name}: argument {param} is {annotation!r}"
