"""Journey 6: destructive actions ask first. Dismissing the confirmation sends nothing and changes nothing;
accepting it does the thing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ..support import ADMIN_HOST
from .pages import Dialogs, Portal, PostRecorder

pytestmark = pytest.mark.browser


def test_suspending_an_agency_asks_first(page, live_server, world, problems, screenshot):
    admin = Portal(page, live_server, ADMIN_HOST)
    admin.login(world.users["admin"])
    admin.goto(f"/admin/agencies/{world.agency_ids['AG2']}")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("active")
    dialogs, posts = Dialogs(page), PostRecorder(page)

    dialogs.answer_next(accept=False)
    page.get_by_role("button", name="Suspend").click()
    assert dialogs.seen and dialogs.seen[0][0] == "confirm"
    assert "Suspend Agency AG2?" in dialogs.seen[0][1]
    assert posts.posts == []
    page.reload()
    expect(heading).to_contain_text("active")

    admin.goto(f"/admin/agencies/{world.agency_ids['AG2']}")
    dialogs.answer_next(accept=True)
    page.get_by_role("button", name="Suspend").click()
    expect(admin.flashes).to_contain_text(["Agency Agency AG2 suspended"])
    expect(heading).to_contain_text("suspended")
    expect(page.get_by_role("button", name="Reactivate")).to_be_visible()
    screenshot("suspended")

    # A suspended agency's host no longer answers.
    problems.expect("404")
    resp = page.goto(live_server.url(world.hosts["AG2"], "/login"))
    assert resp.status == 404


def test_suspending_a_client_asks_first(page, live_server, world, screenshot):
    portal = Portal(page, live_server, world.hosts["AG1"])
    portal.login(world.users["AG1.owner"])
    portal.goto(f"/agency/clients/{world.client_ids['A2']}")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("active")
    danger = page.locator(".danger-zone")
    dialogs, posts = Dialogs(page), PostRecorder(page)

    dialogs.answer_next(accept=False)
    danger.get_by_role("button", name="Suspend").click()
    assert dialogs.seen == [("confirm", "Suspend Client A2? Its users are signed out at once.")]
    assert posts.posts == []
    page.reload()
    expect(heading).to_contain_text("active")

    dialogs.answer_next(accept=True)
    danger.get_by_role("button", name="Suspend").click()
    expect(portal.flashes).to_contain_text(["Client A2 is suspended"])
    expect(heading).to_contain_text("suspended")
    expect(danger.get_by_role("button", name="Reactivate")).to_be_visible()
    assert len(posts.posts) == 1 and posts.posts[0].endswith(
        f"/agency/clients/{world.client_ids['A2']}/suspend"
    )
    screenshot("client-suspended")
