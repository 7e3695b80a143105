"""REST API isolation matrix, generated from `app.url_map`: every /api/v1 route that takes an id, called
with real A1 ids by A2's key (same agency), B1's key (other agency) and A1's key on the other agency's
host, by every method with a body naming A1's objects. Expected: 404 for other clients' keys, 401 for a
key on a host of another agency, and no row of any table changed."""

from __future__ import annotations

from .api_support import Api, make_key
from .test_isolation_matrix import build_path, diff, make_targets, methods_of, snapshot

IGNORED = {"audit_event", "api_key", "idempotency_record"}  # last use and new-IP audit rows are expected


def _api_rules(app):
    return sorted(
        (r for r in app.url_map.iter_rules() if r.endpoint.startswith("api.") and r.arguments),
        key=lambda r: r.rule,
    )


def test_other_clients_keys_get_404_and_change_nothing(app, world):
    targets = make_targets(app, world)
    a1_list = targets.ids["list_id"][0]
    a1_contact = targets.ids["contact_id"][0]
    bodies = {  # a valid body per operation, naming A1's objects: the view itself must refuse
        "api.campaigns_audience": {"lists": [a1_list]},
        "api.campaigns_test": {"addresses": ["x@example.com"]},
        "api.campaigns_schedule": {"at": "2030-01-01T00:00:00Z"},
        "api.subscriptions_create": {"contact_id": a1_contact},
    }
    callers = {
        "A2 key": (Api(app, world.hosts["AG1"], make_key(app, world, "A2")), 404),
        "B1 key": (Api(app, world.hosts["AG2"], make_key(app, world, "B1")), 404),
        "A1 key on AG2": (Api(app, world.hosts["AG2"], make_key(app, world, "A1")), 401),
    }
    rules = _api_rules(app)
    assert len(rules) >= 8
    before = {k: v for k, v in snapshot(app).items() if k not in IGNORED}
    problems = []
    for rule in rules:
        for values in targets.values_for(rule):
            path = build_path(rule, values).removeprefix("/api/v1")
            for method in sorted(methods_of(rule)):
                for name, (api, expected) in callers.items():
                    resp = api.call(
                        method,
                        path,
                        json=bodies.get(rule.endpoint, {}) if method in ("POST", "PUT") else None,
                    )
                    if resp.status_code != expected:
                        problems.append(
                            f"{name} {method} {path}: {resp.status_code} {resp.get_data(as_text=True)[:120]}"
                        )
    after = {k: v for k, v in snapshot(app).items() if k not in IGNORED}
    assert not problems, "\n".join(problems)
    assert not diff(before, after), diff(before, after)
