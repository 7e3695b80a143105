"""Segments: every condition and operator compiled to SQL on a handful of contacts (SQLite here, PostgreSQL
in CI), strict validation (another client's list or an unknown field is refused), the editor, the live
preview endpoint, roles and isolation."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import insert, select

from portal.extensions import db
from portal.models import Client, Contact, MailingList, Segment, Subscription
from portal.services import DomainError
from portal.services import fields as field_svc
from portal.services import segments as svc
from portal.tenancy import bind_tenant

from .support import client_for

PEOPLE = [
    # email, phone, fields
    (
        "anna@example.com",
        "+393471234567",
        {"city": "Milano", "age": 34, "birthday": "1990-05-17", "vip": True, "size": "M"},
    ),
    ("bruno@shop.it", None, {"city": "milano centro", "age": 51, "birthday": "1973-01-02", "vip": False}),
    ("carla@example.com", None, {"city": "Roma", "age": 18.5, "size": "L"}),
    (None, "+393489999999", {"city": ""}),
    ("dario@Example.org", "+41791234567", {}),
]


@pytest.fixture
def seeded(app, world):
    ag, cid = world.agency_ids["AG1"], world.client_ids["A1"]
    with app.app_context(), bind_tenant(ag, cid):
        client = db.session.scalar(select(Client).where(Client.id == cid))
        for label, kind, choices in (
            ("City", "text", None),
            ("Age", "number", None),
            ("Birthday", "date", None),
            ("VIP", "boolean", None),
            ("Size", "choice", ["S", "M", "L"]),
        ):
            field_svc.create_field(actor=None, client=client, label=label, kind=kind, choices=choices)
        news = MailingList(agency_id=ag, client_id=cid, name="News")
        promo = MailingList(agency_id=ag, client_id=cid, name="Promo")
        db.session.add_all([news, promo])
        db.session.flush()
        db.session.execute(
            insert(Contact),
            [
                {
                    "agency_id": ag,
                    "client_id": cid,
                    "email": e.lower() if e else None,
                    "phone": p,
                    "fields": f,
                }
                for e, p, f in PEOPLE
            ],
        )
        ids = {c.email or c.phone: c.id for c in db.session.scalars(select(Contact))}
        subs = [
            (news, "anna@example.com", "subscribed"),
            (news, "bruno@shop.it", "unsubscribed"),
            (promo, "carla@example.com", "subscribed"),
        ]
        for lst, who, status in subs:
            db.session.add(
                Subscription(agency_id=ag, client_id=cid, list_id=lst.id, contact_id=ids[who], status=status)
            )
        db.session.commit()
        return {"ag": ag, "cid": cid, "news": news.id, "promo": promo.id}


def _match(app, seeded, *conditions, match="all"):
    with app.app_context(), bind_tenant(seeded["ag"], seeded["cid"]):
        client = db.session.scalar(select(Client).where(Client.id == seeded["cid"]))
        rules = {"match": match, "conditions": list(conditions)}
        ids = set(db.session.scalars(svc.segment_query(client, rules)))
        rows = db.session.scalars(select(Contact).where(Contact.id.in_(ids))) if ids else []
        found = sorted(c.email or c.phone for c in rows)
        assert svc.count_matching(client, rules) == len(found)
        return found


def F(key, operator, value=None):
    return {"type": "field", "key": key, "operator": operator, "value": value}


ANNA, BRUNO, CARLA, DARIO, PHONE = (
    "anna@example.com",
    "bruno@shop.it",
    "carla@example.com",
    "dario@example.org",
    "+393489999999",
)
EVERYONE = sorted([ANNA, BRUNO, CARLA, DARIO, PHONE])


@pytest.mark.parametrize(
    "condition,expected",
    [
        (F("city", "equals", "MILANO"), [ANNA]),
        (F("city", "not_equals", "Milano"), sorted([BRUNO, CARLA, DARIO, PHONE])),
        (F("city", "contains", "milano"), [ANNA, BRUNO]),
        (F("city", "contains", "%"), []),  # wildcards are literal
        (F("city", "starts_with", "mil"), [ANNA, BRUNO]),
        (F("city", "is_empty"), sorted([DARIO, PHONE])),
        (F("city", "is_not_empty"), [ANNA, BRUNO, CARLA]),
        (F("age", "equals", "34"), [ANNA]),
        (F("age", "equals", "18,5"), [CARLA]),
        (F("age", "not_equals", "34"), sorted([BRUNO, CARLA, DARIO, PHONE])),
        (F("age", "greater_than", "20"), [ANNA, BRUNO]),
        (F("age", "less_than", "34"), [CARLA]),
        (F("age", "is_empty"), sorted([DARIO, PHONE])),
        (F("birthday", "before", "01/01/1980"), [BRUNO]),
        (F("birthday", "after", "1980-01-01"), [ANNA]),
        (F("birthday", "equals", "17/05/1990"), [ANNA]),
        (F("birthday", "is_not_empty"), [ANNA, BRUNO]),
        (F("vip", "equals", "yes"), [ANNA]),
        (F("vip", "equals", "no"), [BRUNO]),
        (F("vip", "not_equals", "yes"), sorted([BRUNO, CARLA, DARIO, PHONE])),
        (F("size", "equals", "m"), [ANNA]),
        (F("size", "is_empty"), sorted([BRUNO, DARIO, PHONE])),
        ({"type": "email_domain", "value": "@Example.com"}, [ANNA, CARLA]),
        ({"type": "email_domain", "value": "example.org"}, [DARIO]),
        ({"type": "has_phone"}, sorted([ANNA, DARIO, PHONE])),
        ({"type": "has_phone", "present": False}, [BRUNO, CARLA]),
        ({"type": "has_email"}, [ANNA, BRUNO, CARLA, DARIO]),
        ({"type": "has_email", "present": False}, [PHONE]),
    ],
)
def test_condition(app, seeded, condition, expected):
    assert _match(app, seeded, condition) == expected


def test_list_conditions(app, seeded):
    news, promo = seeded["news"], seeded["promo"]
    assert _match(app, seeded, {"type": "list", "list_id": news}) == [ANNA]
    assert _match(app, seeded, {"type": "list", "list_id": news, "status": "unsubscribed"}) == [BRUNO]
    assert _match(app, seeded, {"type": "not_in_list", "list_id": news}) == sorted([CARLA, DARIO, PHONE])
    both = [{"type": "list", "list_id": news}, {"type": "list", "list_id": promo}]
    assert _match(app, seeded, *both, match="any") == [ANNA, CARLA]
    assert _match(app, seeded, *both, match="all") == []
    assert _match(app, seeded, {"type": "list", "list_id": promo}, F("age", "less_than", "20")) == [CARLA]


def test_no_conditions_match_everyone(app, seeded):
    assert _match(app, seeded) == EVERYONE


@pytest.mark.parametrize(
    "rules,message",
    [
        ({"match": "some"}, "all or any"),
        ({"conditions": [{"type": "engagement"}]}, "Unknown condition"),
        ({"conditions": [F("nope", "equals", "x")]}, "your fields"),
        ({"conditions": [F("age", "contains", "3")]}, "comparison"),
        ({"conditions": [F("age", "greater_than", "old")]}, "Age: not a number"),
        ({"conditions": [F("birthday", "before", "soon")]}, "Birthday: not a date"),
        ({"conditions": [F("city", "equals", "")]}, "enter a value"),
        ({"conditions": [{"type": "list", "list_id": "x"}]}, "Choose a list"),
        ({"conditions": [{"type": "list", "list_id": "NEWS", "status": "gone"}]}, "status"),
        ({"conditions": [{"type": "email_domain", "value": ""}]}, "domain"),
        ("not a dict", "not valid"),
    ],
)
def test_invalid_rules_are_refused(app, seeded, rules, message):
    if isinstance(rules, dict):
        rules = json.loads(json.dumps(rules).replace('"NEWS"', str(seeded["news"])))
    with app.app_context(), bind_tenant(seeded["ag"], seeded["cid"]):
        client = db.session.scalar(select(Client).where(Client.id == seeded["cid"]))
        with pytest.raises(DomainError, match=message):
            svc.segment_query(client, rules)


def test_a_rule_naming_another_clients_list_is_refused(app, world, seeded):
    ag2, b1 = world.agency_ids["AG2"], world.client_ids["B1"]
    a2 = world.client_ids["A2"]
    with app.app_context(), bind_tenant(ag2, b1):
        other = MailingList(agency_id=ag2, client_id=b1, name="B1 list")
        db.session.add(other)
        db.session.commit()
        other_id = other.id
    with app.app_context(), bind_tenant(seeded["ag"], a2):
        sibling = MailingList(agency_id=seeded["ag"], client_id=a2, name="A2 list")
        db.session.add(sibling)
        db.session.commit()
        sibling_id = sibling.id
    for list_id in (other_id, sibling_id):
        for kind in ("list", "not_in_list"):
            with pytest.raises(DomainError, match="your lists"):
                _match(app, seeded, {"type": kind, "list_id": list_id})
    editor = client_for(app, world, "A1.editor")
    resp = editor.post(
        "/app/segments/new",
        {
            "name": "Sneaky",
            "match": "all",
            "cond_type": "list",
            "cond_list_id": str(other_id),
            "cond_status": "subscribed",
        },
    )
    assert resp.status_code == 400 and "Choose one of your lists" in resp.get_data(as_text=True)


def _row(kind="", key="", operator="", value="", list_id="", status=""):
    return {
        "cond_type": kind,
        "cond_key": key,
        "cond_operator": operator,
        "cond_value": value,
        "cond_list_id": list_id,
        "cond_status": status,
    }


def test_editor_saves_and_previews(app, world, seeded):
    editor = client_for(app, world, "A1.editor")
    page = editor.get("/app/segments/new")
    assert page.status_code == 200 and "data-preview-url" in page.get_data(as_text=True)
    form = {"name": "Milan", "match": "all"}
    rows = [
        _row("field", "city", "contains", "milano"),
        _row(),
        _row("list", list_id=str(seeded["news"]), status="subscribed"),
    ]
    data = {**form, **{k: [r[k] for r in rows] for k in rows[0]}}
    preview = editor.post("/app/segments/preview.json", data, csrf_path="/app/segments/new")
    assert preview.status_code == 200
    assert preview.get_json() == {
        "count": 1,
        "sample": [{"id": preview.get_json()["sample"][0]["id"], "email": ANNA, "phone": "+393471234567"}],
    }
    bad = editor.post(
        "/app/segments/preview.json", {**data, "cond_value": ["", "", ""]}, csrf_path="/app/segments/new"
    )
    assert bad.status_code == 400 and "enter a value" in bad.get_json()["error"]
    no_csrf = editor.http.post(f"http://{editor.host}/app/segments/preview.json", data=data)
    assert no_csrf.status_code == 400 and "count" not in no_csrf.get_data(as_text=True)

    resp = editor.post("/app/segments/new", data)
    assert resp.status_code == 302
    with app.app_context(), bind_tenant(seeded["ag"], seeded["cid"]):
        seg = db.session.scalar(select(Segment))
        assert seg.rules == {
            "match": "all",
            "conditions": [
                {"type": "field", "key": "city", "operator": "contains", "value": "milano"},
                {"type": "list", "list_id": seeded["news"], "status": "subscribed"},
            ],
        }
        seg_id = seg.id
    html = editor.get(f"/app/segments/{seg_id}").get_data(as_text=True)
    assert 'value="milano"' in html and "Milan" in html
    assert editor.get(f"/app/segments/{seg_id}/count.json").get_json() == {"count": 1}
    assert "Milan" in editor.get("/app/segments").get_data(as_text=True)
    # Deleting a field a segment uses is refused.
    with app.app_context(), bind_tenant(seeded["ag"], seeded["cid"]):
        city_id = next(f.id for f in field_svc.list_fields() if f.key == "city")
    editor.post(f"/app/fields/{city_id}/delete", {}, csrf_path="/app/fields")
    with app.app_context(), bind_tenant(seeded["ag"], seeded["cid"]):
        assert any(f.key == "city" for f in field_svc.list_fields())
    resp = editor.post(f"/app/segments/{seg_id}/delete", {}, csrf_path="/app/segments")
    assert resp.status_code == 302
    with app.app_context(), bind_tenant(seeded["ag"], seeded["cid"]):
        assert db.session.scalar(select(Segment)) is None


def test_viewer_previews_but_cannot_save(app, world, seeded):
    with app.app_context(), bind_tenant(seeded["ag"], seeded["cid"]):
        seg = Segment(
            agency_id=seeded["ag"],
            client_id=seeded["cid"],
            name="All",
            rules={"match": "all", "conditions": []},
        )
        db.session.add(seg)
        db.session.commit()
        seg_id = seg.id
    viewer = client_for(app, world, "A1.viewer")
    assert viewer.get(f"/app/segments/{seg_id}").status_code == 200
    assert viewer.get(f"/app/segments/{seg_id}/count.json").get_json() == {"count": len(PEOPLE)}
    preview = viewer.post("/app/segments/preview.json", {"match": "any"}, csrf_path="/app/segments")
    assert preview.get_json()["count"] == len(PEOPLE)
    assert viewer.get("/app/segments/new").status_code == 403
    assert (
        viewer.post(f"/app/segments/{seg_id}", {"name": "Renamed"}, csrf_path="/app/segments").status_code
        == 403
    )
    assert viewer.post(f"/app/segments/{seg_id}/delete", {}, csrf_path="/app/segments").status_code == 403
    with app.app_context(), bind_tenant(seeded["ag"], seeded["cid"]):
        assert db.session.scalar(select(Segment.name)) == "All"


def test_other_tenants_get_404_on_segments(app, world, seeded):
    with app.app_context(), bind_tenant(seeded["ag"], seeded["cid"]):
        seg = Segment(
            agency_id=seeded["ag"],
            client_id=seeded["cid"],
            name="Mine",
            rules={"match": "all", "conditions": []},
        )
        db.session.add(seg)
        db.session.commit()
        seg_id = seg.id
    for key in ("A2.admin", "B1.admin"):
        other = client_for(app, world, key)
        assert other.get(f"/app/segments/{seg_id}").status_code == 404
        assert other.get(f"/app/segments/{seg_id}/count.json").status_code == 404
        assert other.post(f"/app/segments/{seg_id}/delete", {}, csrf_path="/app/segments").status_code == 404
        # The preview counts only the caller's own contacts.
        assert (
            other.post("/app/segments/preview.json", {"match": "all"}, csrf_path="/app/segments").get_json()[
                "count"
            ]
            == 0
        )
        resp = other.post(
            "/app/segments/preview.json",
            {"match": "all", "cond_type": "list", "cond_list_id": str(seeded["news"])},
            csrf_path="/app/segments",
        )
        assert resp.status_code == 400
