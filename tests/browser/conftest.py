"""Browser tests: the real app served by werkzeug in a thread, driven by Playwright in real Chromium.

Hostnames like ag1.portal.test reach the live server through Chromium's host resolver rules, so the
tenant is resolved from the Host header exactly as in production. Every test gets a fresh browser context
(fresh cookies) and fails if the page logged a console error, threw, or violated the CSP.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "test-results"
SKIP_ENV = "PORTAL_SKIP_BROWSER"

LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    "--host-resolver-rules=MAP *.portal.test 127.0.0.1, MAP portal.test 127.0.0.1",
]


@dataclass
class LiveServer:
    port: int

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[LiveServer]:
    """The session's app on 127.0.0.1 and a free port, one thread per request (the DB is a shared file)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(port=server.server_port)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def _candidates() -> list[tuple[str, str | None]]:
    """(label, executable) in order of preference; None means Playwright's bundled Chromium."""
    env = os.environ.get("PORTAL_CHROMIUM")
    if env:
        return [(f"PORTAL_CHROMIUM={env}", env)]
    found = []
    if Path("/usr/bin/chromium").exists():
        found.append(("/usr/bin/chromium", "/usr/bin/chromium"))
    found.append(("Playwright's bundled Chromium", None))
    return found


@pytest.fixture(scope="session")
def browser():
    """One Chromium per session. No Chromium → the browser tests FAIL, unless PORTAL_SKIP_BROWSER=1."""
    skip = os.environ.get(SKIP_ENV) == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - dev dependency missing
        if skip:
            pytest.skip(f"{SKIP_ENV}=1 and Playwright is not installed")
        pytest.fail(f"Playwright is not installed ({exc}); `make install` or set {SKIP_ENV}=1", pytrace=False)
    pw = sync_playwright().start()
    errors = []
    launched = None
    for label, executable in _candidates():
        try:
            launched = pw.chromium.launch(executable_path=executable, headless=True, args=LAUNCH_ARGS)
            break
        except Exception as exc:  # noqa: BLE001 - report every failed candidate below
            errors.append(f"- {label}: {str(exc).strip().splitlines()[0]}")
    if launched is None:
        pw.stop()
        detail = "\n".join(errors)
        if skip:
            pytest.skip(f"{SKIP_ENV}=1 and no Chromium could launch:\n{detail}")
        pytest.fail(
            "No Chromium could launch for the browser tests. Set PORTAL_CHROMIUM to a Chromium binary, "
            f"install one (`make chromium`), or set {SKIP_ENV}=1 to skip them.\n{detail}",
            pytrace=False,
        )
    yield launched
    launched.close()
    pw.stop()


@dataclass
class Problems:
    """Console errors, uncaught exceptions and CSP violations seen on our own pages."""

    items: list[str] = field(default_factory=list)
    ignored: list[re.Pattern] = field(default_factory=list)

    def add(self, kind: str, text: str, url: str = "") -> None:
        if url and ".portal.test" not in url:
            return  # not our page
        if any(p.search(text) or p.search(url) for p in BENIGN):
            return
        if any(p.search(text) for p in self.ignored):
            return
        self.items.append(f"{kind}: {text}" + (f" ({url})" if url else ""))

    def expect(self, pattern: str) -> None:
        """Let a test declare an error it provokes on purpose (e.g. a 404 it visits)."""
        self.ignored.append(re.compile(pattern))


# Noise of the test setup, not of the product: the live server speaks plain HTTP (so Chromium ignores the
# COOP header), and Chromium asks every host for /favicon.ico when a page declares no icon.
BENIGN = [
    re.compile(r"Cross-Origin-Opener-Policy header has been ignored"),
    re.compile(r"^https?://[^/]+/favicon\.ico$"),
]


# Injected before any page script (Playwright's init scripts are not subject to the page's CSP).
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (e) {
  window.__portalCspSeen = (window.__portalCspSeen || 0) + 1;
  if (window.__portalCsp) {
    window.__portalCsp(e.violatedDirective + " blocked " + (e.blockedURI || "inline") +
      " at " + (e.sourceFile || "") + ":" + (e.lineNumber || 0), document.location.href);
  }
});
"""


@pytest.fixture
def problems() -> Problems:
    return Problems()


@pytest.fixture
def context(browser, problems, request):
    ctx = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(10_000)
    ctx.expose_binding("__portalCsp", lambda source, text, url: problems.add("CSP violation", text, url))
    ctx.add_init_script(_CSP_LISTENER)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context, problems, request):
    page = context.new_page()

    def on_console(msg):
        if msg.type == "error":
            problems.add("console error", msg.text, msg.location.get("url", "") or page.url)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.add("uncaught exception", str(exc), page.url))
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        _screenshot(page, f"FAILED-{request.node.name}")
    if report is not None and report.passed and problems.items:
        pytest.fail("Browser problems on our pages:\n" + "\n".join(problems.items), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.rep_call = rep


def _screenshot(page, name: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    try:
        page.screenshot(path=str(RESULTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"), full_page=True)
    except Exception:  # noqa: BLE001 - a screenshot is a courtesy, never a failure of its own
        pass


@pytest.fixture
def screenshot(page, request):
    """`screenshot("step")` saves test-results/<test>-<step>.png for humans."""

    def take(step: str = "final") -> None:
        _screenshot(page, f"{request.node.name}-{step}")

    return take
