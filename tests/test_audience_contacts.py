"""Contacts: manual create/edit with typed fields, suppressed addresses refused with the reason, search by
email/phone/field, keyset paging that returns every contact once, unsubscribe, delete, roles, isolation."""

from __future__ import annotations

import re

from sqlalchemy import func, insert, select

from portal.extensions import db
from portal.models import AuditEvent, Client, Contact, MailingList, Subscription
from portal.services import contacts as svc
from portal.services import fields as field_svc
from portal.services import suppression as supp
from portal.tenancy import bind_tenant

from .support import client_for


def _ids(world, key="A1"):
    return world.agency_ids["AG1" if key.startswith("A") else "AG2"], world.client_ids[key]


def _setup(app, world):
    """A1 with a list (email + SMS), fields City/Age/Birthday/VIP and one suppressed address."""
    ag, cid = _ids(world)
    with app.app_context(), bind_tenant(ag, cid):
        client = db.session.scalar(select(Client).where(Client.id == cid))
        lst = MailingList(agency_id=ag, client_id=cid, name="News", sms_enabled=True)
        db.session.add(lst)
        field_svc.create_field(actor=None, client=client, label="City")
        field_svc.create_field(actor=None, client=client, label="Age", kind="number")
        field_svc.create_field(actor=None, client=client, label="Birthday", kind="date")
        field_svc.create_field(actor=None, client=client, label="VIP", kind="boolean")
        supp.add(
            actor=None,
            client=client,
            channel="email",
            raw_address="gone@example.com",
            reason="complaint",
            source="test",
        )
        db.session.commit()
        return ag, cid, lst.id


def _contacts(app, ag, cid):
    with app.app_context(), bind_tenant(ag, cid):
        return {c.email: c for c in db.session.scalars(select(Contact))}


def test_create_contact_with_typed_fields_and_subscription(app, world):
    ag, cid, list_id = _setup(app, world)
    editor = client_for(app, world, "A1.editor")
    resp = editor.post(
        "/app/contacts/new",
        {
            "email": "Anna@Example.com",
            "phone": "347 123 4567",
            "field_city": "Milano",
            "field_age": "34",
            "field_birthday": "1990-05-17",
            "field_vip": "yes",
            "lists": str(list_id),
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    anna = _contacts(app, ag, cid)["anna@example.com"]
    assert anna.phone == "+393471234567"
    assert anna.fields == {"city": "Milano", "age": 34, "birthday": "1990-05-17", "vip": True}
    with app.app_context(), bind_tenant(ag, cid):
        subs = list(db.session.scalars(select(Subscription)))
        assert {(s.channel, s.status, s.consent_source) for s in subs} == {
            ("email", "subscribed", "manual"),
            ("sms", "subscribed", "manual"),
        }
        assert subs[0].consent_ip and subs[0].consent_at is not None
        # One contact on both channels: once in each count, not twice in one.
        counts = db.session.execute(
            select(MailingList.email_subscribed_count, MailingList.sms_subscribed_count)
        ).one()
        assert tuple(counts) == (1, 1)
    page = editor.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Milano" in page and "1990-05-17" in page and "News" in page and "No messages sent yet" in page


def test_field_errors_name_the_field(app, world):
    ag, cid, _ = _setup(app, world)
    editor = client_for(app, world, "A1.editor")
    resp = editor.post("/app/contacts/new", {"email": "b@example.com", "field_age": "old"})
    assert resp.status_code == 400
    assert "Age: not a number" in resp.get_data(as_text=True)
    resp = editor.post("/app/contacts/new", {"email": "", "phone": ""})
    assert "needs an email address or a phone number" in resp.get_data(as_text=True)
    resp = editor.post("/app/contacts/new", {"email": "not-an-email"})
    assert resp.status_code == 400
    assert _contacts(app, ag, cid) == {}


def test_suppressed_address_is_not_subscribed_and_the_reason_is_shown(app, world):
    ag, cid, list_id = _setup(app, world)
    editor = client_for(app, world, "A1.editor")
    resp = editor.post("/app/contacts/new", {"email": "gone@example.com", "lists": str(list_id)})
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert "gone@example.com cannot be subscribed to News: it is suppressed (complaint)" in html
    assert _contacts(app, ag, cid) == {}
    # The contact itself may exist, without the subscription.
    assert editor.post("/app/contacts/new", {"email": "gone@example.com"}).status_code == 302
    gone = _contacts(app, ag, cid)["gone@example.com"]
    page = editor.get(f"/app/contacts/{gone.id}").get_data(as_text=True)
    assert "contact-suppressions" in page and "complaint" in page


def test_edit_unsubscribe_and_delete(app, world):
    ag, cid, list_id = _setup(app, world)
    editor = client_for(app, world, "A1.editor")
    editor.post("/app/contacts/new", {"email": "c@example.com", "field_city": "Roma", "lists": str(list_id)})
    c = _contacts(app, ag, cid)["c@example.com"]
    resp = editor.post(
        f"/app/contacts/{c.id}/edit", {"email": "c@example.com", "field_city": "", "field_age": "7"}
    )
    assert resp.status_code == 302
    assert _contacts(app, ag, cid)["c@example.com"].fields == {"age": 7}
    with app.app_context(), bind_tenant(ag, cid):
        sub_id = db.session.scalar(select(Subscription.id))
    resp = editor.post(
        f"/app/contacts/{c.id}/unsubscribe", {"subscription_id": sub_id}, csrf_path=f"/app/contacts/{c.id}"
    )
    assert resp.status_code == 302
    with app.app_context(), bind_tenant(ag, cid):
        assert db.session.scalar(select(Subscription.status)) == "unsubscribed"
        assert db.session.scalar(select(MailingList.email_subscribed_count)) == 0
    resp = editor.post(f"/app/contacts/{c.id}/delete", {}, csrf_path=f"/app/contacts/{c.id}")
    assert resp.status_code == 302
    assert _contacts(app, ag, cid) == {}
    with app.app_context(), bind_tenant(ag, cid):
        assert db.session.scalar(select(func.count()).select_from(Subscription)) == 0
        assert (
            db.session.scalar(select(AuditEvent.target).where(AuditEvent.action == "contact.deleted"))
            == "c@example.com"
        )


def test_viewer_reads_but_cannot_change(app, world):
    ag, cid, list_id = _setup(app, world)
    with app.app_context(), bind_tenant(ag, cid):
        c = Contact(agency_id=ag, client_id=cid, email="v@example.com", fields={})
        db.session.add(c)
        db.session.commit()
        contact_id = c.id
    viewer = client_for(app, world, "A1.viewer")
    assert "v@example.com" in viewer.get("/app/contacts").get_data(as_text=True)
    assert viewer.get(f"/app/contacts/{contact_id}").status_code == 200
    assert viewer.get("/app/contacts/new").status_code == 403
    assert (
        viewer.post("/app/contacts/new", {"email": "x@example.com"}, csrf_path="/app/contacts").status_code
        == 403
    )
    for action in ("edit", "delete", "unsubscribe"):
        resp = viewer.post(
            f"/app/contacts/{contact_id}/{action}", {"email": "y@example.com"}, csrf_path="/app/contacts"
        )
        assert resp.status_code == 403
    assert set(_contacts(app, ag, cid)) == {"v@example.com"}


def test_other_tenants_get_404(app, world):
    ag, cid, _ = _setup(app, world)
    with app.app_context(), bind_tenant(ag, cid):
        c = Contact(agency_id=ag, client_id=cid, email="secret@example.com", fields={})
        db.session.add(c)
        db.session.commit()
        contact_id = c.id
    for key in ("A2.admin", "B1.admin"):
        other = client_for(app, world, key)
        assert other.get(f"/app/contacts/{contact_id}").status_code == 404
        assert other.get(f"/app/contacts/{contact_id}/edit").status_code == 404
        assert (
            other.post(f"/app/contacts/{contact_id}/delete", {}, csrf_path="/app/contacts").status_code == 404
        )
        assert "secret@example.com" not in other.get("/app/contacts?q=secret").get_data(as_text=True)
    assert "secret@example.com" in _contacts(app, ag, cid)


def _bulk(app, ag, cid, rows):
    with app.app_context(), bind_tenant(ag, cid):
        db.session.execute(insert(Contact), [{"agency_id": ag, "client_id": cid, **r} for r in rows])
        db.session.commit()


def test_search_by_email_phone_field_list_and_status(app, world):
    ag, cid, list_id = _setup(app, world)
    _bulk(
        app,
        ag,
        cid,
        [
            {"email": "anna@example.com", "phone": "+393471234567", "fields": {"city": "Milano", "age": 34}},
            {"email": "andrea@example.org", "phone": None, "fields": {"city": "Roma", "age": 40}},
            {
                "email": "bruno@example.com",
                "phone": "+393489999999",
                "fields": {"city": "milano", "vip": True},
            },
            {"email": None, "phone": "+41791234567", "fields": {}},
            {"email": "an%_x@example.com", "phone": None, "fields": {}},
        ],
    )
    with app.app_context(), bind_tenant(ag, cid):
        client = db.session.scalar(select(Client).where(Client.id == cid))
        bruno = db.session.scalar(select(Contact).where(Contact.email == "bruno@example.com"))
        svc.subscribe(actor=None, client=client, contact=bruno, list_ids=[list_id])
        db.session.commit()

        def found(**kw):
            page = svc.contacts_page(client, svc.ContactFilter(**kw))
            return sorted(c.email or c.phone for c in page.items)

        assert found(q="an") == ["an%_x@example.com", "andrea@example.org", "anna@example.com"]
        assert found(q="AN%") == ["an%_x@example.com"]  # wildcards are literal
        assert found(q="anna@example.com") == ["anna@example.com"]
        assert found(q="347 123 4567") == ["anna@example.com"]  # local number, default region IT
        assert found(q="+39348") == ["bruno@example.com"]  # prefix
        assert found(q="348") == ["bruno@example.com"]  # prefix with the region's country code
        assert found(q="0041 79 123 45 67") == ["+41791234567"]
        assert found(field_key="city", field_value="MILANO") == ["anna@example.com", "bruno@example.com"]
        assert found(field_key="age", field_value="40") == ["andrea@example.org"]
        assert found(field_key="vip", field_value="yes") == ["bruno@example.com"]
        assert found(list_id=list_id) == ["bruno@example.com"]
        assert found(list_id=list_id, status="unsubscribed") == []
        page = svc.contacts_page(client, svc.ContactFilter(q="an"))
        assert page.total == 3
    html = client_for(app, world, "A1.viewer").get("/app/contacts?field=age&value=old").get_data(as_text=True)
    assert "Age: not a number" in html


def test_keyset_pages_return_every_contact_once(app, world):
    ag, cid, _ = _setup(app, world)
    _bulk(app, ag, cid, [{"email": f"p{i:03d}@example.com", "fields": {}} for i in range(123)])
    viewer = client_for(app, world, "A1.viewer")
    seen, path, pages = [], "/app/contacts", 0
    while path:
        html = viewer.get(path).get_data(as_text=True)
        seen += re.findall(r">(p\d{3}@example\.com)</a>", html)
        m = re.search(r'href="(/app/contacts\?after=\d+)" rel="next"', html)
        path = m.group(1).replace("&amp;", "&") if m else None
        pages += 1
    assert pages == 3 and len(seen) == 123 and len(set(seen)) == 123
    assert seen == sorted(seen, reverse=True)  # newest first
    # And back: the "newer" link of the last page shows the middle page again.
    last = viewer.get(f"/app/contacts?after={_id_of(app, ag, cid, 'p050@example.com') + 1}").get_data(
        as_text=True
    )
    m = re.search(r'href="(/app/contacts\?before=\d+)" rel="prev"', last)
    middle = viewer.get(m.group(1)).get_data(as_text=True)
    assert re.findall(r">(p\d{3}@example\.com)</a>", middle) == [
        f"p{i:03d}@example.com" for i in range(100, 50, -1)
    ]


def _id_of(app, ag, cid, email):
    with app.app_context(), bind_tenant(ag, cid):
        return db.session.scalar(select(Contact.id).where(Contact.email == email))
