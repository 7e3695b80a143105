"""Lists and custom fields through the pages: CRUD, roles, counts, cascades, other tenants get 404."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Client, Contact, Field, MailingList, Subscription
from portal.services import fields as field_svc
from portal.tenancy import bind_tenant

from .support import client_for

LIST_FORM = {
    "name": "Newsletter",
    "description": "Monthly news",
    "public_name": "Our news",
    "default_sender_name": "Shop",
    "default_sender_email": "News@Shop.example.com",
    "double_opt_in": "y",
    "email_enabled": "y",
}


def _ids(world, key="A1"):
    return world.agency_ids["AG1" if key.startswith("A") else "AG2"], world.client_ids[key]


def _scalar(app, world, query, key="A1"):
    ag, cid = _ids(world, key)
    with app.app_context(), bind_tenant(ag, cid):
        return db.session.scalar(query)


def test_empty_states(app, world):
    viewer = client_for(app, world, "A1.viewer")
    assert "No lists yet" in viewer.get("/app/lists").get_data(as_text=True)
    html = viewer.get("/app/fields").get_data(as_text=True)
    assert "No custom fields yet" in html and "0 of 39 used" in html


def test_create_edit_delete_list(app, world):
    editor = client_for(app, world, "A1.editor")
    resp = editor.post("/app/lists/new", LIST_FORM)
    assert resp.status_code == 302
    lst = _scalar(app, world, select(MailingList))
    assert lst.name == "Newsletter" and lst.default_sender_email == "news@shop.example.com"
    assert lst.email_enabled and not lst.sms_enabled and lst.double_opt_in
    html = editor.get("/app/lists").get_data(as_text=True)
    assert "Newsletter" in html and "lists-table" in html
    detail = editor.get(f"/app/lists/{lst.id}").get_data(as_text=True)
    assert "Our news" in detail and f"/app/contacts?list={lst.id}" in detail

    # Same name again: refused, on the form.
    again = editor.post("/app/lists/new", LIST_FORM)
    assert again.status_code == 200 and "exists already" in again.get_data(as_text=True)
    # No channel at all: refused.
    none = editor.post("/app/lists/new", {**LIST_FORM, "name": "Other", "email_enabled": ""})
    assert "at least one channel" in none.get_data(as_text=True)
    bad_sender = editor.post("/app/lists/new", {**LIST_FORM, "name": "Other", "default_sender_email": "nope"})
    assert "valid email address" in bad_sender.get_data(as_text=True)

    edit = editor.post(f"/app/lists/{lst.id}/edit", {**LIST_FORM, "name": "News", "sms_enabled": "y"})
    assert edit.status_code == 302
    lst = _scalar(app, world, select(MailingList))
    assert lst.name == "News" and lst.sms_enabled

    ag, cid = _ids(world)
    with app.app_context(), bind_tenant(ag, cid):
        c = Contact(agency_id=ag, client_id=cid, email="a@example.com", fields={})
        db.session.add(c)
        db.session.flush()
        db.session.add(Subscription(agency_id=ag, client_id=cid, list_id=lst.id, contact_id=c.id))
        db.session.commit()
    resp = editor.post(f"/app/lists/{lst.id}/delete", {}, csrf_path=f"/app/lists/{lst.id}")
    assert resp.status_code == 302
    assert _scalar(app, world, select(func.count()).select_from(MailingList)) == 0
    assert _scalar(app, world, select(func.count()).select_from(Subscription)) == 0
    assert _scalar(app, world, select(func.count()).select_from(Contact)) == 1  # contacts stay
    assert _scalar(app, world, select(AuditEvent.target).where(AuditEvent.action == "list.deleted")) == "News"


def test_list_page_counts_per_status(app, world):
    ag, cid = _ids(world)
    with app.app_context(), bind_tenant(ag, cid):
        lst = MailingList(agency_id=ag, client_id=cid, name="L", email_subscribed_count=2)
        db.session.add(lst)
        db.session.flush()
        for i, status in enumerate(["subscribed", "subscribed", "unsubscribed", "bounced"]):
            c = Contact(agency_id=ag, client_id=cid, email=f"c{i}@example.com", fields={})
            db.session.add(c)
            db.session.flush()
            db.session.add(
                Subscription(agency_id=ag, client_id=cid, list_id=lst.id, contact_id=c.id, status=status)
            )
        db.session.commit()
        list_id = lst.id
    html = client_for(app, world, "A1.viewer").get(f"/app/lists/{list_id}").get_data(as_text=True)
    table = html.split('data-testid="status-counts-email"')[1].split("</table>")[0]
    assert ">Subscribed</a>" in table and '<td class="num">2</td>' in table
    assert '<td class="num">1</td>' in table  # unsubscribed, bounced


def test_viewer_cannot_change_lists_or_fields(app, world):
    ag, cid = _ids(world)
    with app.app_context(), bind_tenant(ag, cid):
        lst = MailingList(agency_id=ag, client_id=cid, name="Keep")
        db.session.add(lst)
        client = db.session.scalar(select(Client).where(Client.id == cid))
        f = field_svc.create_field(actor=None, client=client, label="City")
        db.session.commit()
        list_id, field_id = lst.id, f.id
    viewer = client_for(app, world, "A1.viewer")
    html = viewer.get("/app/lists").get_data(as_text=True)
    assert "New list" not in html
    assert viewer.get("/app/lists/new").status_code == 403
    assert viewer.post("/app/lists/new", LIST_FORM, csrf_path="/app/lists").status_code == 403
    assert viewer.post(f"/app/lists/{list_id}/delete", {}, csrf_path="/app/lists").status_code == 403
    assert viewer.post(f"/app/lists/{list_id}/edit", LIST_FORM, csrf_path="/app/lists").status_code == 403
    assert (
        viewer.post("/app/fields/new", {"label": "X", "kind": "text"}, csrf_path="/app/fields").status_code
        == 403
    )
    assert viewer.post(f"/app/fields/{field_id}/delete", {}, csrf_path="/app/fields").status_code == 403
    assert _scalar(app, world, select(func.count()).select_from(MailingList)) == 1
    assert _scalar(app, world, select(func.count()).select_from(Field)) == 1


def test_other_tenants_get_404_on_lists_and_fields(app, world):
    ag, cid = _ids(world)
    with app.app_context(), bind_tenant(ag, cid):
        lst = MailingList(agency_id=ag, client_id=cid, name="Private")
        db.session.add(lst)
        client = db.session.scalar(select(Client).where(Client.id == cid))
        f = field_svc.create_field(actor=None, client=client, label="City")
        db.session.commit()
        list_id, field_id = lst.id, f.id
    for key in ("A2.admin", "B1.admin"):
        c = client_for(app, world, key)
        assert c.get(f"/app/lists/{list_id}").status_code == 404
        assert c.get(f"/app/lists/{list_id}/edit").status_code == 404
        assert c.post(f"/app/lists/{list_id}/delete", {}, csrf_path="/app/lists").status_code == 404
        assert c.post(f"/app/fields/{field_id}/delete", {}, csrf_path="/app/fields").status_code == 404
        assert "Private" not in c.get("/app/lists").get_data(as_text=True)
    assert _scalar(app, world, select(func.count()).select_from(MailingList)) == 1
    assert _scalar(app, world, select(func.count()).select_from(Field)) == 1


def test_fields_create_and_delete_removes_values(app, world):
    editor = client_for(app, world, "A1.editor")
    resp = editor.post("/app/fields/new", {"label": "First name", "kind": "text"}, csrf_path="/app/fields")
    assert resp.status_code == 302
    editor.post(
        "/app/fields/new",
        {"label": "Size", "kind": "choice", "choices_text": "S\nM\n\nL"},
        csrf_path="/app/fields",
    )
    bad = editor.post("/app/fields/new", {"label": "Colour", "kind": "choice"}, csrf_path="/app/fields")
    assert bad.status_code == 400 and "at least one choice" in bad.get_data(as_text=True)
    unknown = editor.post("/app/fields/new", {"label": "X", "kind": "blob"}, csrf_path="/app/fields")
    assert unknown.status_code == 400
    html = editor.get("/app/fields").get_data(as_text=True)
    assert "{{ first_name }}" in html and "2 of 39 used" in html and "S, M, L" in html

    ag, cid = _ids(world)
    with app.app_context(), bind_tenant(ag, cid):
        for i in range(3):
            db.session.add(
                Contact(
                    agency_id=ag,
                    client_id=cid,
                    email=f"p{i}@example.com",
                    fields={"first_name": f"P{i}", "size": "M"},
                )
            )
        db.session.commit()
        field_id = db.session.scalar(select(Field.id).where(Field.key == "first_name"))
    resp = editor.post(f"/app/fields/{field_id}/delete", {}, csrf_path="/app/fields")
    assert resp.status_code == 302
    with app.app_context(), bind_tenant(ag, cid):
        assert [c.fields for c in db.session.scalars(select(Contact))] == [{"size": "M"}] * 3
        assert db.session.scalar(select(func.count()).select_from(Field)) == 1
