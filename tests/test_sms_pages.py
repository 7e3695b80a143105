"""The SMS pages through HTTP: the operator grants an agency's pool, the agency gives credits (never
beyond its pool), sees the ledger and exports it; the client asks for a sender id and the agency approves
it; the live counter's endpoint answers the server's figures; prices and opt-out keywords are saved."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from portal.extensions import db
from portal.models import SmsPrice, SmsSenderId
from portal.sms import credits
from portal.sms.inbound import stop_keywords
from portal.tenancy import all_tenants, bind_tenant

from .support import client_for


def test_pool_grant_allocation_ledger_and_export(app, world):
    ag1, a1 = world.agency_ids["AG1"], world.client_ids["A1"]
    admin = client_for(app, world, "admin")
    assert (
        admin.post(
            f"/admin/sms/agencies/{ag1}", {"amount": "500", "note": "December"}, csrf_path="/admin/sms"
        ).status_code
        == 302
    )
    assert "500" in admin.get("/admin/sms").get_data(as_text=True)

    owner = client_for(app, world, "AG1.owner")
    page = f"/agency/sms/clients/{a1}"
    too_much = owner.post(page, {"amount": "501", "direction": "allocate"})
    assert too_much.status_code == 400
    assert "pool holds 500 credits; 501 cannot be given" in too_much.get_data(as_text=True)
    assert (
        owner.post(page, {"amount": "120", "direction": "allocate", "note": "first batch"}).status_code == 302
    )
    assert owner.post(page, {"amount": "20", "direction": "revoke"}).status_code == 302
    with app.app_context(), all_tenants():
        assert credits.balance(ag1) == credits.Balance(400, 0)
        assert credits.balance(ag1, a1) == credits.Balance(10 + 100, 0)
        assert credits.ledger_balances(ag1) == credits.balance(ag1)
    overview = owner.get("/agency/sms").get_data(as_text=True)
    assert "400" in overview and "Client A1" in overview and "Client B1" not in overview

    rows = list(csv.reader(io.StringIO(owner.get(f"{page}/ledger.csv").get_data(as_text=True))))
    assert rows[0] == ["time", "kind", "credits", "campaign", "note"]
    assert [(r[1], r[2], r[4]) for r in rows[1:]] == [
        ("opening", "10", "opening balance"),
        ("allocate", "120", "first batch"),
        ("revoke", "20", ""),
    ]
    # The client reads its own balance and ledger.
    client_page = client_for(app, world, "A1.admin").get("/app/sms/credits").get_data(as_text=True)
    assert "110 credits available" in client_page and "first batch" in client_page


def test_sender_id_requested_by_the_client_and_approved_by_the_agency(app, world):
    client = client_for(app, world, "A1.admin")
    bad = client.post("/app/sms/senders", {"value": "Way Too Long Name"})
    assert "up to 11 letters and digits" in bad.get_data(as_text=True)
    assert client.post("/app/sms/senders", {"value": "ShopNews"}).status_code == 302
    assert "waiting for approval" in client.get("/app/sms/senders").get_data(as_text=True)
    with app.app_context(), bind_tenant(world.agency_ids["AG1"]):
        sender_id = db.session.scalar(select(SmsSenderId.id))
    owner = client_for(app, world, "AG1.owner")
    assert "ShopNews" in owner.get("/agency/sms").get_data(as_text=True)
    # Another agency cannot decide it.
    other = client_for(app, world, "AG2.owner")
    assert (
        other.post(
            f"/agency/sms/senders/{sender_id}", {"decision": "approve"}, csrf_path="/agency/sms"
        ).status_code
        == 404
    )
    assert (
        owner.post(
            f"/agency/sms/senders/{sender_id}", {"decision": "approve"}, csrf_path="/agency/sms"
        ).status_code
        == 302
    )
    assert "approved" in client.get("/app/sms/senders").get_data(as_text=True)


def test_counter_endpoint_prices_and_keywords(app, world):
    owner = client_for(app, world, "AG1.owner")
    assert (
        owner.post(
            "/agency/sms/prices",
            {"price-country": "it", "price-credits_per_segment": "2"},
            csrf_path="/agency/sms",
        ).status_code
        == 302
    )
    assert (
        owner.post(
            "/agency/sms/keywords", {"kw-keywords": "stop, basta, Arresta"}, csrf_path="/agency/sms"
        ).status_code
        == 302
    )
    with app.app_context(), bind_tenant(world.agency_ids["AG1"]):
        assert [(p.country, p.credits_per_segment) for p in db.session.scalars(select(SmsPrice))] == [
            ("IT", 2)
        ]
        assert stop_keywords(world.agency_ids["AG1"]) == {"STOP", "BASTA", "ARRESTA"}
    client = client_for(app, world, "A1.admin")
    token = client.csrf("/app/sms")
    answer = client.http.post(
        f"http://{client.host}/app/sms/count",
        json={"text": "a" * 152 + "€" + "a" * 152},
        headers={"X-CSRFToken": token},
    ).get_json()
    assert answer["encoding"] == "GSM-7" and answer["segments"] == 3
    assert answer["credits"] == 6  # the client's default region is IT: 2 credits per segment


def test_test_send_goes_to_one_number_through_the_gateway(app, world):
    from portal.models import Campaign

    from .sms_support import setup_client, start_gateway

    url, gateway = start_gateway()
    try:
        s = setup_client(app, world, "A1", url, ["+393471234567"])
        with app.app_context(), bind_tenant(s.agency_id, s.client_id):
            sender = db.session.scalar(select(SmsSenderId.id))
            campaign = Campaign(
                agency_id=s.agency_id,
                client_id=s.client_id,
                channel="sms",
                name="Promo",
                text="Ciao {{ first_name }}!",
                audience={"lists": [s.list_id]},
                sms_sender_id=sender,
            )
            db.session.add(campaign)
            db.session.commit()
            cid = campaign.id
        admin = client_for(app, world, "A1.admin")
        bad = admin.post(
            f"/app/sms/{cid}/test", {"test-number": "12"}, csrf_path=f"/app/sms/{cid}", follow_redirects=True
        )
        assert "Phone number: not a valid phone number for its country." in bad.get_data(as_text=True)
        assert gateway.state.messages == []
        ok = admin.post(
            f"/app/sms/{cid}/test",
            {"test-number": "347 765 4321"},
            csrf_path=f"/app/sms/{cid}",
            follow_redirects=True,
        )
        assert "A test SMS went to +393477654321." in ok.get_data(as_text=True)
        [message] = gateway.state.messages
        assert (message.to, message.text, message.sender) == ("+393477654321", "Ciao !", "ShopNews")
        with app.app_context(), bind_tenant(s.agency_id):
            assert credits.balance(s.agency_id, s.client_id) == credits.Balance(10, 0)  # a test costs nothing
    finally:
        gateway.stop()
