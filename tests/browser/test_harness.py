"""The harness itself: the live server answers per host, and CSP violations are caught, not ignored."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

STRICT_CSP = "default-src 'self'; script-src 'self' 'nonce-abc'; style-src 'self' 'nonce-abc'"
PAGE = (
    "<!doctype html><html><head><style>body{color:red}</style></head>"
    "<body><p>x</p><script>document.title='ran'</script></body></html>"
)


def test_unknown_host_gets_a_plain_404(page, live_server, world, problems):
    problems.expect("404")
    resp = page.goto(live_server.url("nobody.portal.test", "/login"))
    assert resp.status == 404


def test_inline_code_without_nonce_is_reported(page, live_server, problems):
    url = live_server.url("fake.portal.test", "/csp-probe")
    page.route(
        url,
        lambda route: route.fulfill(
            body=PAGE, content_type="text/html", headers={"Content-Security-Policy": STRICT_CSP}
        ),
    )
    page.goto(url)
    page.wait_for_function("window.__portalCspSeen >= 2")
    assert page.title() != "ran"
    found = "\n".join(problems.items)
    assert "style-src" in found and "script-src" in found, found
    problems.items.clear()  # provoked on purpose
