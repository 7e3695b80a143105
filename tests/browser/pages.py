"""Page objects: what a person sees and does, in the words of the page (labels, roles, test ids)."""

from __future__ import annotations

import io
import re

import pyotp
from playwright.sync_api import Page, expect

from ..support import PASSWORD, TOTP_SECRETS


def rgb(hex_colour: str) -> str:
    """'#aa3311' -> 'rgb(170, 51, 17)', the form getComputedStyle answers with."""
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgb({r}, {g}, {b})"


def png_bytes(width: int = 48, height: int = 24, colour: tuple[int, int, int] = (170, 51, 17)) -> bytes:
    """A small, real PNG made with Pillow."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, format="PNG")
    return buf.getvalue()


def computed(page: Page, selector: str, prop: str) -> str:
    return page.locator(selector).first.evaluate(
        "(el, prop) => getComputedStyle(el).getPropertyValue(prop)", prop
    )


def set_colour(locator, value: str) -> None:
    """Set an <input type=color> like a person picking a colour: value, then input and change events."""
    locator.evaluate(
        """(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true}));
                        el.dispatchEvent(new Event('change', {bubbles: true})); }""",
        value,
    )


class Portal:
    """The portal on one host, as seen by one browser tab."""

    def __init__(self, page: Page, live_server, host: str):
        self.page, self.server, self.host = page, live_server, host

    def url(self, path: str = "/") -> str:
        return self.server.url(self.host, path)

    def goto(self, path: str = "/"):
        resp = self.page.goto(self.url(path))
        assert resp is not None and resp.ok, f"GET {path} on {self.host} answered {resp and resp.status}"
        return resp

    def path_is(self, pattern: str) -> None:
        """Wait until the URL path matches `pattern` (a regex anchored at the path start) and the page has
        loaded: its scripts must have run before a test types, or their input listeners miss the typing."""
        expect(self.page).to_have_url(re.compile(rf"^https?://{re.escape(self.host)}:\d+{pattern}"))
        self.page.wait_for_load_state("load")

    # --- pieces of the layout (templates/base.html) ---
    @property
    def topbar(self):
        return self.page.locator("header.topbar")

    @property
    def brand_name(self):
        return self.topbar.locator(".brand-name")

    @property
    def brand_logo(self):
        return self.topbar.locator("img.brand-logo")

    @property
    def flashes(self):
        return self.page.locator(".flash")

    def topbar_background(self) -> str:
        return computed(self.page, "header.topbar", "background-color")

    def wait_topbar_background(self, want: str) -> None:
        """After a navigation the DOM is there before every stylesheet has applied: wait for the colour
        (the expect() timeout) instead of reading it once."""
        self.page.wait_for_function(
            "want => getComputedStyle(document.querySelector('header.topbar')).backgroundColor === want",
            arg=want,
        )

    def image_loaded(self, locator) -> bool:
        return locator.evaluate("img => img.complete && img.naturalWidth > 0")

    # --- sign in ---
    def login(self, email: str, password: str = PASSWORD, expect_path: str | None = None) -> None:
        self.goto("/login")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        if email in TOTP_SECRETS:  # enrolled with a known secret (the world's operator): the code step
            self.path_is("/login/code")
            self.page.get_by_label("Code").fill(pyotp.TOTP(TOTP_SECRETS[email]).now())
            self.page.get_by_role("button", name="Continue").click()
        # Signed in: the user menu with "Sign out" appears (and we left /login).
        expect(self.page.get_by_role("button", name="Sign out")).to_be_visible()
        if expect_path:
            self.path_is(expect_path)

    def logout(self) -> None:
        self.page.get_by_role("button", name="Sign out").click()
        self.path_is("/login")


class Dialogs:
    """Answers the next window.confirm() and remembers what it asked."""

    def __init__(self, page: Page):
        self.page = page
        self.seen: list[tuple[str, str]] = []

    def answer_next(self, accept: bool) -> None:
        def handle(dialog):
            self.seen.append((dialog.type, dialog.message))
            dialog.accept() if accept else dialog.dismiss()

        self.page.once("dialog", handle)


class PostRecorder:
    """Every POST the page sends, to prove a dismissed confirmation sent nothing."""

    def __init__(self, page: Page):
        self.posts: list[str] = []
        page.on("request", lambda r: self.posts.append(r.url) if r.method == "POST" else None)
