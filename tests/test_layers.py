"""The dependency direction of DESIGN.md §4, read from the import statements of every module:

    views (blueprints) → features → shared core (tenancy, suppression, events, audit, mail) → models
                                                                                     └→ backends

A module may import from its own floor and the floors below it, never above. Imports inside functions
count too (hiding an import in a function does not move it to another floor)."""

from __future__ import annotations

import ast
from pathlib import Path

PORTAL = Path(__file__).resolve().parent.parent / "portal"

BACKENDS = ("backends",)
MODELS = ("models", "extensions", "tenancy")
CORE = (
    "services.suppression",
    "services.events",
    "services.audit",
    "mail",
    "list_counts",
    "crypto",
    "paging",
    "netutil",
    "links",
    "hosts",
    "emailaddr",
    "csvsafe",
    "concurrency",
    "settings",
    "inbound.classify",
    # Address syntax (pure functions) lives in the imports package, where most of it is used.
    "imports.addresses",
    "feed",  # the events feed (Event rows + subscription journal) read by the API and webhooks
    "netguard",  # the one outbound-request guard (SSRF)
)
FEATURES = (
    "sending",
    "campaigns",
    "imports",
    "jobs",
    "inbound",
    "reports",
    "transfers",
    "usage",
    "services.reputation",  # pauses campaigns: it sits on the sending floor
    "services.campaigns",
    "twofactor",
    "providers",  # provider-side sending, pull-back and callbacks
    "adoption",  # importing an existing provider account: preview, resumable reading, set-based apply
    "batch",  # nightly files over FTP/FTPS/SFTP: import engine and campaign services
    "sms",  # SMS campaigns, credits ledger, sender ids, replies
    "forms",  # subscription forms, double opt-in, the Integrations page
    "compat",  # the plugin subscribe endpoints (/frontend/*.aspx) over the forms' sign-up path
    "keys",  # key rotation, and what a page or job does with a secret no key can read
    "webhooks",  # outbound webhooks: endpoints, signing, dispatch from the events feed, delivery
)
WEB = ("admin", "agency", "client", "auth", "public", "mailpublic", "audience", "suppressions", "api")


def _module(path: Path) -> str:
    rel = path.relative_to(PORTAL).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Portal modules imported by a file, as dotted names below `portal`."""
    module = _module(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = ".".join([*base, node.module] if node.module else base)
            elif node.module and node.module.startswith("portal."):
                target = node.module[len("portal.") :]
            else:
                continue
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name[len("portal.") :] for a in node.names if a.name.startswith("portal."))
    return found


def _in(name: str, floor: tuple[str, ...]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in floor)


def _violations(source_floor: tuple[str, ...], forbidden: tuple[str, ...], allowed=()) -> list[str]:
    problems = []
    for path in PORTAL.rglob("*.py"):
        module = _module(path)
        if not _in(module, source_floor) or _in(module, allowed):
            continue
        for target in sorted(_imports(path)):
            if _in(target, forbidden) and not _in(target, allowed):
                problems.append(f"{module} imports {target}")
    return problems


def test_backends_import_nothing_from_the_portal_above_them():
    above = MODELS + CORE + FEATURES + WEB + ("services",)
    assert _violations(BACKENDS, above) == []


def test_models_import_no_service_feature_or_view():
    assert (
        _violations(("models",), CORE + FEATURES + WEB + BACKENDS + ("services",), allowed=("settings",))
        == []
    )


def test_the_shared_core_imports_no_feature_and_no_view():
    problems = _violations(CORE, FEATURES + WEB, allowed=("imports.addresses",))
    assert problems == [], "the shared core reaches up into a feature:\n" + "\n".join(problems)


def test_features_import_no_view():
    assert _violations(("sending", "imports", "usage", "list_counts", "twofactor"), WEB) == []


def test_the_reader_resolves_relative_imports():
    """The reader itself, so that the rules above cannot pass by reading nothing: `from ..models import`
    and `from .audit import record` in services/events.py resolve to portal.models and services.audit."""
    names = _imports(PORTAL / "services" / "events.py")
    assert "models" in names and "services.audit.record" in names
