"""Senders page (domains with DNS records, verification through an injected resolver, identities) and the
image library (content-validated uploads, public URLs on the agency domain)."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import select

from portal.extensions import db
from portal.models import ImageAsset, SenderDomain, SenderIdentity
from portal.services import senders
from portal.tenancy import bind_tenant

from .support import client_for


@pytest.fixture
def dns(app):
    """DNS is an external system: the view's resolver answers from this dict while the test runs."""
    published: dict[str, list[str]] = {}
    app.extensions["portal_txt_resolver"] = lambda name: published.get(name, [])
    try:
        yield published
    finally:
        del app.extensions["portal_txt_resolver"]


def _domain(app, world, name) -> SenderDomain:
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        d = db.session.scalar(select(SenderDomain).where(SenderDomain.domain == name))
        db.session.expunge(d)
        return d


def test_add_domain_shows_records_and_check_verifies_it(app, world, dns):
    c = client_for(app, world, "A1.admin")
    page = c.get("/app/senders").get_data(as_text=True)
    assert "No domains yet" in page
    resp = c.post("/app/senders/domains", {"domain": "News.Shop-A1.example.com"})
    assert resp.status_code == 302
    d = _domain(app, world, "news.shop-a1.example.com")
    page = c.get("/app/senders").get_data(as_text=True)
    with app.app_context():
        records = senders.dns_records(d)
    for r in records:
        assert r["name"] in page and r["value"] in page
    assert "not verified" in page
    # Nothing published yet: the check says so and the domain stays unverified.
    c.post(f"/app/senders/domains/{d.id}/check", csrf_path="/app/senders")
    page = c.get("/app/senders").get_data(as_text=True)
    assert "Not all records" in page and _domain(app, world, d.domain).verified_at is None
    # Publish both records: verified.
    for r in records:
        dns[r["name"]] = [r["value"]]
    c.post(f"/app/senders/domains/{d.id}/check", csrf_path="/app/senders")
    assert _domain(app, world, d.domain).verified_at is not None
    assert "is verified" in c.get("/app/senders").get_data(as_text=True)


def test_identities_need_an_own_domain_and_can_be_removed(app, world, dns):
    c = client_for(app, world, "A1.editor")
    c.post("/app/senders/domains", {"domain": "mail.a1.example.com"})
    resp = c.post(
        "/app/senders/identities",
        {"name": "A1 News", "email": "news@elsewhere.example.com"},
        csrf_path="/app/senders",
    )
    assert resp.status_code == 400 and "Add the domain elsewhere.example.com first" in resp.get_data(
        as_text=True
    )
    resp = c.post(
        "/app/senders/identities",
        {"name": "A1 News", "email": "news@mail.a1.example.com", "reply_to": "help@example.org"},
        csrf_path="/app/senders",
    )
    assert resp.status_code == 302
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        ident = db.session.scalar(select(SenderIdentity))
        assert ident.email == "news@mail.a1.example.com" and ident.reply_to == "help@example.org"
        ident_id = ident.id
    # Unverified domain: the compose page offers the sender disabled, with a note.
    c.post("/app/campaigns/new", {"name": "Try", "starter": ""}, csrf_path="/app/campaigns/new")
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        from portal.models import Campaign

        camp_id = db.session.scalar(select(Campaign.id))
    page = c.get(f"/app/campaigns/{camp_id}").get_data(as_text=True)
    assert re.search(
        rf'<option disabled[^>]*value="{ident_id}"|<option[^>]*value="{ident_id}"[^>]*disabled', page
    )
    assert "domain not verified" in page
    c.post(f"/app/senders/identities/{ident_id}/delete", csrf_path="/app/senders")
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        assert db.session.scalar(select(SenderIdentity)) is None


def test_sender_pages_are_per_tenant(app, world, dns):
    a1 = client_for(app, world, "A1.admin")
    a1.post("/app/senders/domains", {"domain": "only-a1.example.com"})
    d = _domain(app, world, "only-a1.example.com")
    for key in ("A2.admin", "B1.admin"):
        other = client_for(app, world, key)
        assert "only-a1.example.com" not in other.get("/app/senders").get_data(as_text=True)
        assert other.post(f"/app/senders/domains/{d.id}/check", csrf_path="/app/senders").status_code == 404
    viewer = client_for(app, world, "A1.viewer")
    assert viewer.get("/app/senders").status_code == 200
    assert (
        viewer.post("/app/senders/domains", {"domain": "x.example.com"}, csrf_path="/app/senders").status_code
        == 403
    )


def _png(size=(40, 20), fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (36, 88, 214)).save(buf, fmt)
    return buf.getvalue()


def _upload(c, name: str, data: bytes):
    token = c.csrf("/app/images")
    return c.http.post(
        f"http://{c.host}/app/images",
        data={"csrf_token": token, "image": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_image_library_upload_list_delete(app, world):
    c = client_for(app, world, "A1.editor")
    assert "No images yet" in c.get("/app/images").get_data(as_text=True)
    for name, data in (
        ("logo.png", _png()),
        ("photo.jpg", _png(fmt="JPEG")),
        ("anim.gif", _png(fmt="GIF")),
        ("pic.webp", _png(fmt="WEBP")),
    ):
        assert _upload(c, name, data).status_code == 302, name
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        images = {i.name: i for i in db.session.scalars(select(ImageAsset))}
        assert {i.mime for i in images.values()} == {"image/png", "image/jpeg", "image/gif", "image/webp"}
        logo = images["logo.png"]
        assert (logo.width, logo.height) == (40, 20) and len(logo.token) == 32
        token, logo_id = logo.token, logo.id
    page = c.get("/app/images").get_data(as_text=True)
    assert f"https://ag1.portal.test/img/{token}" in page  # canonical agency domain, never the request host
    c.post(f"/app/images/{logo_id}/delete", csrf_path="/app/images")
    assert f"/img/{token}" not in c.get("/app/images").get_data(as_text=True)


@pytest.mark.parametrize(
    "name,data,message",
    [
        (
            "evil.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "not an image",
        ),
        ("fake.png", b"<html><script>alert(1)</script></html>", "not an image"),
        ("huge.png", _png() + b"\0" * (2 * 1024 * 1024), "at most 2 MB"),
        ("wide.png", _png(size=(4001, 10)), "4000"),
        ("doc.bmp", _png(fmt="BMP"), "PNG, JPEG, GIF or WebP"),
    ],
)
def test_image_uploads_are_validated_by_content(app, world, name, data, message):
    c = client_for(app, world, "A1.admin")
    resp = _upload(c, name, data)
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        assert db.session.scalar(select(ImageAsset)) is None


def test_images_are_per_tenant_and_viewers_only_look(app, world):
    a1 = client_for(app, world, "A1.admin")
    _upload(a1, "mine.png", _png())
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        img_id = db.session.scalar(select(ImageAsset.id))
    other = client_for(app, world, "A2.admin")
    assert "mine.png" not in other.get("/app/images").get_data(as_text=True)
    assert other.post(f"/app/images/{img_id}/delete", csrf_path="/app/images").status_code == 404
    viewer = client_for(app, world, "A1.viewer")
    page = viewer.get("/app/images").get_data(as_text=True)
    assert "mine.png" in page and 'type="file"' not in page
    assert _upload(viewer, "v.png", _png()).status_code == 403
