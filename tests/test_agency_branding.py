"""The branding editor: saved colours reach every page, uploads are checked by content, owners only."""

from __future__ import annotations

import io
import re

from PIL import Image
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent
from portal.tenancy import bind_tenant

from .support import agency_row, client_for

FORM = {
    "name": "Blue Sky Media",
    "primary_color": "#123456",
    "accent_color": "#abcdef",
    "footer_text": "Blue Sky Media srl",
    "support_email": "help@bluesky.test",
    "default_locale": "it",
}


def png(width=40, height=20, fmt="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(out, fmt)
    return out.getvalue()


def post_branding(c, **files):
    data = dict(FORM)
    for name, (content, filename) in files.items():
        data[name] = (io.BytesIO(content), filename)
    return c.post("/agency/branding", data, content_type="multipart/form-data")


def test_branding_changes_css_variables_and_logo(app, world):
    c = client_for(app, world, "AG1.owner")
    page = c.get("/agency/branding").get_data(as_text=True)
    assert "data-brand-preview" in page and "js/branding-preview.js" in page
    logo = png()
    resp = post_branding(c, logo=(logo, "logo.png"))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with app.app_context():
        version = agency_row(world.agency_ids["AG1"]).branding_version
    html = c.get("/agency/").get_data(as_text=True)
    assert "--brand: #123456" in html and "--accent: #abcdef" in html
    assert "Blue Sky Media" in html
    assert f"/brand/logo?v={version}" in html
    served = c.get(f"/brand/logo?v={version}")
    assert served.status_code == 200 and served.data == logo and served.mimetype == "image/png"
    # The client users of the agency see the same brand.
    a1 = client_for(app, world, "A1.admin").get("/app/").get_data(as_text=True)
    assert "--brand: #123456" in a1
    with app.app_context(), bind_tenant(world.agency_ids["AG1"]):
        actions = db.session.scalars(select(AuditEvent.action)).all()
    assert "branding.updated" in actions


def test_every_change_bumps_the_version_and_logo_can_be_removed(app, world):
    c = client_for(app, world, "AG1.owner")
    with app.app_context():
        v0 = agency_row(world.agency_ids["AG1"]).branding_version
    assert post_branding(c, logo=(png(), "a.png")).status_code == 302
    with app.app_context():
        v1 = agency_row(world.agency_ids["AG1"]).branding_version
    assert v1 > v0
    resp = c.post("/agency/branding/logo/remove", csrf_path="/agency/branding")
    assert resp.status_code == 302
    with app.app_context():
        row = agency_row(world.agency_ids["AG1"])
        assert row.logo_mime is None and row.logo_data is None and row.branding_version > v1
    assert "/brand/logo" not in c.get("/agency/").get_data(as_text=True)
    assert c.get("/brand/logo").status_code == 404


def test_favicon_png_and_ico(app, world):
    c = client_for(app, world, "AG1.owner")
    assert '<link rel="icon" href="data:,">' in c.get("/agency/").get_data(as_text=True)  # none yet: no 404
    ico = io.BytesIO()
    Image.new("RGB", (32, 32), (0, 0, 255)).save(ico, "ICO")
    assert post_branding(c, favicon=(ico.getvalue(), "favicon.ico")).status_code == 302
    with app.app_context():
        row = agency_row(world.agency_ids["AG1"])
        assert row.favicon_mime == "image/x-icon" and row.favicon_data == ico.getvalue()
    assert 'rel="icon"' in c.get("/agency/").get_data(as_text=True)


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def _rejected(app, world, c, message_part, **files):
    with app.app_context():
        before = agency_row(world.agency_ids["AG1"])
        state = (before.name, before.logo_mime, before.favicon_mime, before.branding_version)
    resp = post_branding(c, **files)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert message_part in body, body
    with app.app_context():
        after = agency_row(world.agency_ids["AG1"])
        assert (after.name, after.logo_mime, after.favicon_mime, after.branding_version) == state
    return body


def test_svg_logo_rejected(app, world):
    c = client_for(app, world, "AG1.owner")
    body = _rejected(app, world, c, "Logo: SVG", logo=(SVG, "logo.svg"))
    assert "not accepted" in body


def test_svg_disguised_as_png_rejected(app, world):
    c = client_for(app, world, "AG1.owner")
    _rejected(app, world, c, "Logo: SVG", logo=(SVG, "logo.png"))


def test_fake_extension_rejected(app, world):
    c = client_for(app, world, "AG1.owner")
    body = _rejected(
        app, world, c, "Logo: the file is not a valid image", logo=(b"%PDF-1.4 not an image" * 10, "x.png")
    )
    assert "GIF, JPEG, PNG, WEBP" in body


def test_oversized_logo_rejected(app, world):
    c = client_for(app, world, "AG1.owner")
    big = png() + b"\0" * (513 * 1024)
    _rejected(app, world, c, "the limit is 512 KB", logo=(big, "big.png"))


def test_too_many_pixels_rejected(app, world):
    c = client_for(app, world, "AG1.owner")
    _rejected(app, world, c, "the limit is 2000×2000", logo=(png(3000, 10), "wide.png"))


def test_favicon_must_be_png_or_ico(app, world):
    c = client_for(app, world, "AG1.owner")
    _rejected(app, world, c, "Favicon: the file is not a valid image", favicon=(png(fmt="JPEG"), "f.png"))
    _rejected(app, world, c, "the limit is 128 KB", favicon=(png() + b"\0" * (129 * 1024), "f.png"))


def test_bad_colour_refused(app, world):
    c = client_for(app, world, "AG1.owner")
    data = dict(FORM, primary_color="red;}body{x")
    resp = c.post("/agency/branding", data)
    assert resp.status_code == 400 and "Use a colour like" in resp.get_data(as_text=True)
    with app.app_context():
        assert agency_row(world.agency_ids["AG1"]).primary_color != "red;}body{x"


def test_staff_cannot_manage_branding(app, world):
    c = client_for(app, world, "AG1.staff")
    assert c.get("/agency/branding").status_code == 403
    token = c.csrf("/agency/")
    resp = c.http.post(f"http://{c.host}/agency/branding", data={**FORM, "csrf_token": token})
    assert resp.status_code == 403
    assert (
        c.http.post(f"http://{c.host}/agency/branding/logo/remove", data={"csrf_token": token}).status_code
        == 403
    )
    nav = c.get("/agency/").get_data(as_text=True)
    assert "/agency/branding" not in nav and "/agency/staff" not in nav
    with app.app_context():
        assert agency_row(world.agency_ids["AG1"]).name == "Agency AG1"


def test_no_platform_name_on_agency_pages(app, world):
    c = client_for(app, world, "AG1.owner")
    for path in ("/agency/", "/agency/branding", "/agency/clients", "/agency/staff", "/agency/activity"):
        assert not re.search("mailup", c.get(path).get_data(as_text=True), re.I), path
