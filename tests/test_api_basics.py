"""REST API: keys, auth, scopes, rate limit, idempotency, conventions, and the core resources."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import ApiKey, AuditEvent
from portal.tenancy import all_tenants

from .api_support import Api, api_for, make_key


def test_lists_contacts_happy_path(app, world):
    api = api_for(app, world)
    resp = api.post("/lists", json={"name": "Newsletter"})
    assert resp.status_code == 201, resp.json
    list_id = resp.json["id"]
    resp = api.post("/contacts", json={"email": "Ann@Example.com", "lists": [list_id]})
    assert resp.status_code == 201, resp.json
    contact = resp.json
    assert contact["email"] == "ann@example.com"
    assert contact["subscriptions"][0]["status"] == "subscribed"
    assert contact["subscriptions"][0]["consent_source"] == "api"
    again = api.post("/contacts", json={"email": "ann@example.com", "phone": ""})
    assert again.status_code == 200 and again.json["id"] == contact["id"]
    found = api.get("/contacts?email=ANN@example.com")
    assert [c["id"] for c in found.json["data"]] == [contact["id"]]
    assert api.get(f"/contacts/{contact['id']}").json["email"] == "ann@example.com"
    gone = api.delete(f"/lists/{list_id}/subscriptions/{contact['id']}")
    assert gone.status_code == 200
    assert gone.json["subscriptions"][0]["status"] == "unsubscribed"


def test_missing_bad_and_query_keys(app, world):
    host = world.hosts["AG1"]
    resp = Api(app, host, None).get("/lists")
    assert resp.status_code == 401 and resp.json["error"]["code"] == "unauthorized"
    assert "WWW-Authenticate" in resp.headers
    resp = Api(app, host, "pk_000000000000_nope").get("/lists")
    assert resp.status_code == 401 and resp.json["error"]["code"] == "invalid_key"
    key = make_key(app, world)
    resp = Api(app, host, None).get(f"/lists?api_key={key}")
    assert resp.status_code == 400 and resp.json["error"]["code"] == "key_in_query"
    resp = Api(app, host, key).get("/nowhere")
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"
    assert "Set-Cookie" not in resp.headers


def test_key_isolation_across_clients_and_agencies(app, world):
    a1 = api_for(app, world, "A1")
    list_id = a1.post("/lists", json={"name": "Mine"}).json["id"]
    contact_id = a1.post("/contacts", json={"email": "x@a1.example.com"}).json["id"]
    a2 = api_for(app, world, "A2")
    assert a2.get(f"/lists/{list_id}").status_code == 404
    assert a2.get(f"/contacts/{contact_id}").status_code == 404
    assert a2.delete(f"/lists/{list_id}/subscriptions/{contact_id}").status_code == 404
    assert a2.post(f"/lists/{list_id}/subscriptions", json={"contact_id": contact_id}).status_code == 404
    # A1's key on the other agency's host is unknown there.
    wrong_host = Api(app, world.hosts["AG2"], a1.key)
    assert wrong_host.get("/lists").status_code == 401
    b1 = api_for(app, world, "B1")
    assert b1.get(f"/contacts/{contact_id}").status_code == 404


def test_scopes_expiry_and_revocation(app, world):
    reader = api_for(app, world, scopes=("read",))
    resp = reader.post("/lists", json={"name": "No"})
    assert resp.status_code == 403 and resp.json["error"]["code"] == "insufficient_scope"
    assert reader.get("/lists").status_code == 200
    from portal.api.keys import revoke_key
    from portal.models import Client
    from portal.tenancy import bind_tenant

    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        key = db.session.scalar(select(ApiKey))
        revoke_key(actor=None, client=db.session.get(Client, world.client_ids["A1"]), key=key)
        db.session.commit()
    assert reader.get("/lists").status_code == 401


def test_rate_limit_answers_429_with_retry_after(app, world):
    api = api_for(app, world, rate_limit_per_minute=3)
    codes = [api.get("/lists").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    resp = api.get("/lists")
    assert resp.json["error"]["code"] == "rate_limited"
    assert int(resp.headers["Retry-After"]) >= 1


def test_idempotency_same_answer_or_422(app, world):
    api = api_for(app, world)
    first = api.post("/lists", json={"name": "Once"}, headers={"Idempotency-Key": "k-1"})
    again = api.post("/lists", json={"name": "Once"}, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert first.json == again.json and again.headers.get("Idempotent-Replayed") == "true"
    assert len(api.get("/lists").json["data"]) == 1
    other = api.post("/lists", json={"name": "Other"}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 422 and other.json["error"]["code"] == "idempotency_key_reused"


def test_validation_errors_name_the_field(app, world):
    api = api_for(app, world)
    resp = api.post("/contacts", json={"email": "not-an-address"})
    assert resp.status_code == 422 and resp.json["error"]["code"] == "invalid_contact"
    assert "json.email" in resp.json["error"]["details"]
    resp = api.post("/contacts", json={"emial": "typo@example.com"})
    assert resp.status_code == 422 and resp.json["error"]["code"] == "validation_failed"
    assert any("emial" in k for k in resp.json["error"]["details"])
    resp = api.get("/contacts?limit=0")
    assert resp.status_code == 422 and "query.limit" in resp.json["error"]["details"]
    resp = api.get("/contacts?after=%%%")
    assert resp.status_code == 400 and resp.json["error"]["code"] == "bad_cursor"


def test_request_size_limit(app, world):
    api = api_for(app, world)
    big = {"name": "x", "description": "y" * (9 * 1024 * 1024)}
    resp = api.post("/lists", json=big)
    assert resp.status_code == 413 and resp.json["error"]["code"] == "request_too_large"


def test_key_use_is_audited_once_per_new_ip(app, world):
    api = api_for(app, world)
    api.get("/lists")
    api.get("/lists")
    with app.app_context(), all_tenants():
        actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        key = db.session.scalar(select(ApiKey))
    assert actions.count("api_key.created") == 1
    assert actions.count("api_key.new_ip") == 1
    assert key.last_used_at is not None


def test_cursor_paging(app, world):
    api = api_for(app, world)
    ids = [api.post("/contacts", json={"email": f"p{i}@example.com"}).json["id"] for i in range(5)]
    seen, after = [], None
    while True:
        resp = api.get("/contacts?limit=2" + (f"&after={after}" if after else ""))
        seen += [c["id"] for c in resp.json["data"]]
        after = resp.json["next_cursor"]
        if after is None:
            break
    assert seen == ids


def test_cli_creates_a_key_printed_once(app, world):
    from portal.models import Client

    with app.app_context(), all_tenants():
        slug = db.session.get(Client, world.client_ids["A1"]).slug
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "api-keys",
            "create",
            "--client",
            slug,
            "--agency",
            "ag1",
            "--name",
            "CRM",
            "--scopes",
            "read,write",
        ]
    )
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[0]
    assert key.startswith("pk_")
    assert Api(app, world.hosts["AG1"], key).get("/lists").status_code == 200
    with app.app_context(), all_tenants():
        stored = db.session.scalar(select(ApiKey).where(ApiKey.name == "CRM"))
        assert stored.scopes == ["read", "write"] and key not in (stored.key_hash, stored.prefix)
    bad = runner.invoke(args=["api-keys", "create", "--client", "nobody", "--name", "x"])
    assert bad.exit_code != 0 and "no client" in bad.output
    bad = runner.invoke(
        args=["api-keys", "create", "--client", slug, "--agency", "ag1", "--name", "x", "--scopes", "admin"]
    )
    assert bad.exit_code != 0 and "Unknown scope" in bad.output


def test_more_error_codes(app, world):
    api = api_for(app, world)
    resp = api.call("PATCH", "/lists")
    assert resp.status_code == 405 and resp.json["error"]["code"] == "method_not_allowed"
    resp = api.get("/contacts?email=not-an-address")
    assert resp.status_code == 422 and resp.json["error"]["code"] == "invalid_address"
    list_id = api.post("/lists", json={"name": "L"}).json["id"]
    resp = api.post(
        "/contacts/bulk",
        json={"lists": [list_id], "contacts": [{"email": "a@example.com", "fields": {"nope": "1"}}]},
    )
    assert resp.status_code == 422 and resp.json["error"]["code"] == "unknown_field"
    resp = api.post("/lists", json={"name": "x"}, headers={"Idempotency-Key": "x" * 300})
    assert resp.status_code == 400 and resp.json["error"]["code"] == "bad_idempotency_key"
    campaign = api.post("/campaigns", json={"name": "Empty"}).json
    resp = api.post(f"/campaigns/{campaign['id']}/send")
    assert (
        resp.status_code == 422 and resp.json["error"]["code"] == "rejected" and resp.json["error"]["message"]
    )
    assert api.get("/campaigns/999999").json["error"]["code"] == "not_found"
    resp = api.post("/campaigns", json={"name": "Two", "html": "<p>x</p>", "template": "plain"})
    assert resp.status_code == 422 and resp.json["error"]["code"] == "validation_failed"


def test_expired_key_and_suspended_account(app, world):
    from datetime import UTC, datetime, timedelta

    import time_machine

    api = api_for(app, world, expires_at=datetime.now(UTC) + timedelta(days=1))
    assert api.get("/lists").status_code == 200
    with time_machine.travel(datetime.now(UTC) + timedelta(days=2)):
        resp = api.get("/lists")
        assert resp.status_code == 401 and resp.json["error"]["code"] == "invalid_key"
    from portal.models import Client

    with app.app_context(), all_tenants():
        db.session.get(Client, world.client_ids["A1"]).status = "suspended"
        db.session.commit()
    resp = api.get("/lists")
    assert resp.status_code == 403 and resp.json["error"]["code"] == "account_suspended"


def test_double_opt_in_leaves_the_subscription_pending_and_sends_the_link(app, world, outbox):
    from .support import run_jobs

    api = api_for(app, world)
    list_id = api.post("/lists", json={"name": "DOI"}).json["id"]
    resp = api.post(
        f"/lists/{list_id}/subscriptions", json={"email": "doi@example.com", "double_opt_in": True}
    )
    assert resp.status_code == 200, resp.json
    assert [s["status"] for s in resp.json["subscriptions"]] == ["pending"]
    run_jobs(app)
    assert outbox.to("doi@example.com"), "the confirmation link was emailed"


def test_session_cookie_is_ignored_and_no_csrf_is_needed(app, world):
    from .support import client_for

    browser = client_for(app, world, "A1.admin")  # a signed-in session cookie, but no key
    resp = browser.http.get(f"http://{world.hosts['AG1']}/api/v1/lists")
    assert resp.status_code == 401
    key = make_key(app, world)
    resp = browser.http.post(
        f"http://{world.hosts['AG1']}/api/v1/lists",
        json={"name": "No CSRF"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert resp.status_code == 201 and "Set-Cookie" not in resp.headers


def test_idempotency_keys_are_per_client(app, world):
    a1, a2 = api_for(app, world, "A1"), api_for(app, world, "A2")
    first = a1.post("/lists", json={"name": "A1 list"}, headers={"Idempotency-Key": "same"})
    other = a2.post("/lists", json={"name": "A2 list"}, headers={"Idempotency-Key": "same"})
    assert first.status_code == other.status_code == 201
    assert other.json["name"] == "A2 list" and "Idempotent-Replayed" not in other.headers
    replay = a1.post("/lists", json={"name": "A1 list"}, headers={"Idempotency-Key": "same"})
    assert replay.json == first.json
