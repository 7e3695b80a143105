"""Every audit action recorded anywhere in portal/ has a human label, and the pages show it."""

import ast
from pathlib import Path

from portal.audit_labels import ACTION_LABELS, IMPORT_FINISH_STATUSES, action_label

from .support import client_for

PORTAL = Path(__file__).resolve().parent.parent / "portal"

# f-string actions and the values their placeholder can take.
DYNAMIC = {"import.{status}": [f"import.{s}" for s in IMPORT_FINISH_STATUSES]}


def _actions(node: ast.expr) -> list[str]:
    """The action strings an argument can evaluate to: literals, `a if c else b`, known f-strings."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _actions(node.body) + _actions(node.orelse)
    if isinstance(node, ast.JoinedStr):
        pattern = "".join(
            v.value if isinstance(v, ast.Constant) else "{" + ast.unparse(v.value) + "}" for v in node.values
        )
        assert pattern in DYNAMIC, f"unknown dynamic audit action {pattern!r}: add its values to DYNAMIC"
        return DYNAMIC[pattern]
    raise AssertionError(f"audit action that is not a literal: {ast.unparse(node)}")


def _audit_names(tree: ast.Module) -> set[str]:
    """Names a module binds to the audit service's `record` (`from ..services.audit import record`)."""
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] == "audit"
        for alias in node.names
        if alias.name == "record"
    }


def _recorded_actions() -> dict[str, str]:
    """Calls of the audit service's `record`: the imported name, or `audit.record(...)`."""
    found = {}
    for path in sorted(PORTAL.rglob("*.py")):
        if path.name == "audit.py":
            continue
        tree = ast.parse(path.read_text(), str(path))
        names = _audit_names(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            func = node.func
            direct = isinstance(func, ast.Name) and func.id in names
            qualified = (
                isinstance(func, ast.Attribute)
                and func.attr == "record"
                and isinstance(func.value, ast.Name)
                and func.value.id in ("audit", "audit_svc")
            )
            if not (direct or qualified):
                continue
            for action in _actions(node.args[0]):
                found[action] = f"{path.relative_to(PORTAL.parent)}:{node.lineno}"
    return found


def test_every_recorded_action_has_a_label():
    actions = _recorded_actions()
    assert len(actions) > 50  # the scan really found the calls
    missing = {a: where for a, where in actions.items() if a not in ACTION_LABELS}
    assert missing == {}


def test_unknown_action_falls_back_to_its_name(app):
    with app.test_request_context():
        assert action_label("something.new") == "something.new"
        assert action_label("list.created") == "List created"


def test_pages_show_labels(app, world):
    client_for(app, world, "A1.admin").post(
        "/app/settings", {"name": "Client A1", "timezone": "UTC", "default_region": "IT"}
    )
    html = client_for(app, world, "A1.viewer").get("/app/activity").get_data(as_text=True)
    assert "Settings saved" in html and "client.settings_updated" not in html
    agency = client_for(app, world, "AG1.owner").get("/agency/activity").get_data(as_text=True)
    assert "Settings saved" in agency and "client.settings_updated" not in agency
    admin = client_for(app, world, "admin").get("/admin/audit").get_data(as_text=True)
    assert "Settings saved" in admin and "Settings saved (client.settings_updated)" in admin
