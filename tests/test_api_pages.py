"""Client-area pages of the API and webhooks: keys shown once, revoke, roles, the reference with the
client's own ids and host; webhook secret shown once, rotation, delivery log and replay."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import ApiKey, MailingList, Webhook, WebhookDelivery
from portal.tenancy import bind_tenant

from .api_support import Api
from .support import client_for


def _csrf(c, path):
    return c.csrf(path)


def test_create_key_shows_it_once_and_revoke_stops_it(app, world):
    c = client_for(app, world, "A1.admin")
    resp = c.post(
        "/app/api/keys",
        data={"name": "Shop", "scopes": ["read", "write"], "rate_limit": "60"},
        csrf_path="/app/api/keys",
    )
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    secret = html.split('<pre class="secret"><code>')[1].split("</code>")[0]
    assert secret.startswith("pk_")
    assert Api(app, world.hosts["AG1"], secret).get("/lists").status_code == 200
    page = c.get("/app/api/keys").get_data(as_text=True)
    assert secret not in page and "Shop" in page  # never shown again
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        key_id = db.session.scalar(select(ApiKey.id))
    resp = c.post(f"/app/api/keys/{key_id}/revoke", csrf_path="/app/api/keys")
    assert resp.status_code == 302
    assert Api(app, world.hosts["AG1"], secret).get("/lists").status_code == 401


def test_viewer_sees_keys_but_cannot_create(app, world):
    c = client_for(app, world, "A1.viewer")
    assert c.get("/app/api/keys").status_code == 200
    resp = c.post(
        "/app/api/keys", data={"name": "x", "scopes": ["read"], "rate_limit": "60"}, csrf_path="/app/api/keys"
    )
    assert resp.status_code == 403


def test_reference_shows_the_clients_own_ids_and_host(app, world):
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        lst = MailingList(
            agency_id=world.agency_ids["AG1"], client_id=world.client_ids["A1"], name="Own list"
        )
        db.session.add(lst)
        db.session.commit()
        list_id = lst.id
    html = client_for(app, world, "A1.admin").get("/app/api/reference").get_data(as_text=True)
    assert f"{world.hosts['AG1']}/api/v1" in html
    assert f'"lists": [{list_id}]' in html and "Own list" in html
    assert "mailup" not in html.lower()


def test_webhook_pages_secret_once_rotate_log_replay(app, world):
    c = client_for(app, world, "A1.admin")
    resp = c.post(
        "/app/webhooks",
        data={"url": "https://93.184.216.34/in", "events": ["open", "bounce"]},
        csrf_path="/app/webhooks",
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert "whsec_" in resp.get_data(as_text=True)
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        hook = db.session.scalar(select(Webhook))
        db.session.add(
            WebhookDelivery(
                agency_id=hook.agency_id,
                client_id=hook.client_id,
                webhook_id=hook.id,
                message_id="msg_x",
                event_type="open",
                payload="{}",
                status="failed",
                attempts=8,
                last_status_code=500,
                last_duration_ms=12,
            )
        )
        db.session.commit()
        hook_id = hook.id
    assert "whsec_" not in c.get("/app/webhooks").get_data(as_text=True)
    detail = c.get(f"/app/webhooks/{hook_id}").get_data(as_text=True)
    assert "msg_x" in detail and "500" in detail and "12 ms" in detail
    rotated = c.post(f"/app/webhooks/{hook_id}/rotate", csrf_path=f"/app/webhooks/{hook_id}")
    assert "whsec_" in rotated.get_data(as_text=True)
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        delivery_id = db.session.scalar(select(WebhookDelivery.id))
    resp = c.post(
        f"/app/webhooks/{hook_id}/deliveries/{delivery_id}/replay", csrf_path=f"/app/webhooks/{hook_id}"
    )
    assert resp.status_code == 302
    with app.app_context(), bind_tenant(world.agency_ids["AG1"], world.client_ids["A1"]):
        d = db.session.get(WebhookDelivery, delivery_id)
        assert d.status == "pending" and d.message_id == "msg_x"
        assert db.session.get(Webhook, hook_id).previous_secret


def test_blocked_webhook_url_is_refused_with_the_reason(app, world):
    c = client_for(app, world, "A1.admin")
    resp = c.post(
        "/app/webhooks",
        data={"url": "http://169.254.169.254/latest/meta-data/", "events": ["open"]},
        csrf_path="/app/webhooks",
    )
    assert resp.status_code == 400 and "link-local" in resp.get_data(as_text=True)
