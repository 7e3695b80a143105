"""Deny by default (DESIGN.md §3.7): every endpoint is on the public allow-list or needs a login.

Generated from `app.url_map`, so a route added without thinking about access is caught here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from werkzeug.routing import IntegerConverter

from portal.api.auth import OPEN_ENDPOINTS as API_OPEN_ENDPOINTS
from portal.guards import BLUEPRINT_HOSTS, KEY_AUTH_BLUEPRINTS, PUBLIC_ENDPOINTS
from portal.hosts import KIND_ADMIN, KIND_AGENCY

from .support import ADMIN_HOST, HostClient
from .test_isolation_matrix import blueprint_of, build_path, methods_of

PRIVATE_BLUEPRINTS = ("admin", "agency", "client", "jobs")


def _dummy_values(rule) -> dict:
    return {
        arg: 1 if isinstance(rule._converters.get(arg), IntegerConverter) else "x" for arg in rule.arguments
    }


def test_every_endpoint_is_public_or_needs_login(app, world):
    hosts = {KIND_ADMIN: ADMIN_HOST, KIND_AGENCY: world.hosts["AG1"]}
    callers = {kind: HostClient(app, host) for kind, host in hosts.items()}
    problems = []
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        path = build_path(rule, _dummy_values(rule))
        allowed_kinds = BLUEPRINT_HOSTS.get(blueprint_of(rule), set())
        for method in sorted(methods_of(rule) & {"GET", "POST", "PUT", "PATCH", "DELETE"}):
            for kind, caller in callers.items():
                resp = caller.http.open(f"http://{caller.host}{path}", method=method)
                checked += 1
                if kind in allowed_kinds and blueprint_of(rule) in KEY_AUTH_BLUEPRINTS:
                    # REST API: a key, never a session; the document alone is open (it holds no data).
                    open_doc = rule.endpoint in API_OPEN_ENDPOINTS
                    ok = resp.status_code in ((200,) if open_doc else (401, 405)) and not resp.location
                    expected = "200 (the document)" if open_doc else "401 JSON (no API key)"
                elif kind in allowed_kinds:
                    ok = resp.status_code == 302 and urlsplit(resp.location).path == "/login"
                    expected = "302 to /login"
                else:
                    ok = resp.status_code == 404
                    expected = "404 (wrong host for this blueprint)"
                if not ok:
                    problems.append(
                        f"{rule.endpoint} {method} {path} anonymous on {caller.host}: "
                        f"{resp.status_code} {resp.location or ''}, expected {expected}"
                    )
    assert checked
    assert not problems, "\n".join(problems)


def test_login_redirect_keeps_the_local_path_only(app, world):
    resp = HostClient(app, world.hosts["AG1"]).get("/app/users?page=2")
    assert resp.status_code == 302
    target = urlsplit(resp.location)
    assert target.path == "/login" and target.netloc in ("", world.hosts["AG1"])


def test_allow_list_names_only_existing_endpoints(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert PUBLIC_ENDPOINTS <= endpoints, f"stale entries: {sorted(PUBLIC_ENDPOINTS - endpoints)}"


def test_allow_list_has_nothing_from_private_areas(app):
    private = sorted(e for e in PUBLIC_ENDPOINTS if e.partition(".")[0] in PRIVATE_BLUEPRINTS)
    assert not private, f"public endpoints inside private areas: {private}"


def test_every_blueprint_declares_its_hosts(app):
    """A new blueprint missing from BLUEPRINT_HOSTS would be 404 everywhere — or forgotten; make it explicit."""
    blueprints = {blueprint_of(rule) for rule in app.url_map.iter_rules()}
    assert blueprints <= set(BLUEPRINT_HOSTS), sorted(str(b) for b in blueprints - set(BLUEPRINT_HOSTS))


def test_public_endpoints_answer_anonymously(app, world):
    """The allow-listed pages really are reachable without a login (no accidental redirect loop)."""
    c = HostClient(app, world.hosts["AG1"])
    for path in ("/login", "/forgot", "/healthz"):
        resp = c.get(path)
        assert resp.status_code == 200, (path, resp.status_code)
