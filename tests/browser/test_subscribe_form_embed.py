"""Journey: a client's form embedded in a static page on another origin (the client's shop), submitted
inline by the embed script across origins (CORS for that site only), confirmed by the emailed link."""

from __future__ import annotations

import html
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from ..forms_support import confirm_path, make_field, make_form, make_list, subscription_status
from ..support import client_for, run_jobs

pytestmark = pytest.mark.browser


@pytest.fixture
def shop_site():
    """A static site on its own origin (127.0.0.1 and another port): `serve(html)` sets its one page."""
    pages = {"/": b""}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            body = pages.get(self.path.split("?")[0])
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{server.server_port}"

    def serve(page: str) -> str:
        pages["/"] = page.encode()
        return origin + "/"

    yield origin, serve
    server.shutdown()
    server.server_close()


def test_embedded_form_subscribes_across_origins_and_confirms(
    app, page, live_server, world, outbox, shop_site, screenshot
):
    origin, serve = shop_site
    host = world.hosts["AG1"]
    news = make_list(app, world, "A1", "Shop news")
    first = make_field(app, world, "A1", "First name")
    form = make_form(
        app,
        world,
        "A1",
        name="Shop footer",
        title="Shop news",
        list_ids=[news["id"]],
        fields=[{"key": first["key"], "required": False}],
        allowed_origins=origin,
    )
    # The embed code exactly as the client copies it from the form's page; the canonical https address
    # becomes the live server's (the test serves plain HTTP on a port).
    detail = client_for(app, world, "A1.admin").get(f"/app/forms/{form['id']}").get_data(as_text=True)
    found = re.search(r'<textarea class="embed-code"[^>]*>(.*?)</textarea>', detail, re.S)
    assert found, "no embed code on the form's page"
    snippet = html.unescape(found.group(1)).replace(f"https://{host}", live_server.url(host, "").rstrip("/"))
    shop_url = serve(
        f"<!doctype html><html><head><title>Shop</title></head><body><h1>Our shop</h1>{snippet}</body></html>"
    )

    page.goto(shop_url)
    page.get_by_label("Email address").fill("zoe@example.com")
    page.get_by_label("First name").fill("Zoe")
    with page.expect_response(lambda r: r.request.method == "POST" and "/f/" in r.url) as answer:
        page.get_by_role("button", name="Subscribe").click()
    assert answer.value.status == 200
    assert answer.value.headers["access-control-allow-origin"] == origin
    expect(page.locator("[data-portal-status]")).to_contain_text("we sent you an email")
    assert page.url == shop_url  # inline: the visitor stayed on the shop's page
    screenshot("embedded-submitted")
    assert subscription_status(app, world, "A1", "zoe@example.com", news["id"]) == "pending"

    run_jobs(app)
    (message,) = outbox.to("zoe@example.com")
    page.goto(live_server.url(host, urlsplit(confirm_path(message)).path))
    page.get_by_test_id("confirm-subscription").click()
    expect(page.get_by_test_id("confirm-done")).to_be_visible()
    screenshot("confirmed")
    assert subscription_status(app, world, "A1", "zoe@example.com", news["id"]) == "subscribed"
