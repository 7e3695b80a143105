"""A client's webhook endpoints: create (the secret is shown once), rotate the secret with an overlap
during which both secrets sign, enable again after an automatic disable, delete. The URL passes the
outbound guard at save (and again at every delivery: DNS may change)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from .. import feed, netguard
from ..crypto import decrypt_json, encrypt_json
from ..extensions import db
from ..models import Client, User, Webhook
from ..models.webservice import WEBHOOK_EVENTS
from ..services import DomainError, NotFound
from ..services.audit import record
from ..services.i18n_safe import _
from .signing import new_secret

ROTATION_OVERLAP = timedelta(hours=24)


def allow_localhost() -> bool:
    return current_app.config["PORTAL_SETTINGS"].outbound_allow_localhost


def check_url(url: str) -> str:
    url = (url or "").strip()
    try:
        netguard.check_url(url, allow_localhost=allow_localhost())
    except netguard.Blocked as exc:
        raise DomainError(str(exc)) from exc
    return url


def _events(events) -> list[str]:
    chosen = sorted({e for e in events or [] if e})
    unknown = [e for e in chosen if e not in WEBHOOK_EVENTS]
    if unknown:
        raise DomainError(_("Unknown event %(name)s.", name=", ".join(unknown)))
    if not chosen:
        raise DomainError(_("Choose at least one event."))
    return chosen


def seal(secret: str) -> str:
    return encrypt_json({"secret": secret})


def unseal(token: str) -> str:
    return decrypt_json(token)["secret"] if token else ""


def secrets_in_use(hook: Webhook, now: datetime | None = None) -> list[str]:
    """The current secret, and the previous one while its overlap lasts."""
    now = now or datetime.now(UTC)
    found = [unseal(hook.secret)]
    if hook.previous_secret and hook.previous_secret_until and hook.previous_secret_until > now:
        found.append(unseal(hook.previous_secret))
    return found


def create_webhook(
    *, actor: User | None, client: Client, url: str, events, description: str = ""
) -> tuple[Webhook, str]:
    secret = new_secret()
    hook = Webhook(
        agency_id=client.agency_id,
        client_id=client.id,
        url=check_url(url),
        events=_events(events),
        description=(description or "").strip()[:200],
        secret=seal(secret),
        enabled=True,
    )
    db.session.add(hook)
    db.session.flush()
    hook.feed_cursor = feed.end_cursor(client.id).encode()  # events from now on, not the whole history
    record("webhook.created", actor=actor, agency_id=client.agency_id, client_id=client.id, target=hook.url)
    return hook, secret


def list_webhooks() -> list[Webhook]:
    return list(db.session.scalars(select(Webhook).order_by(Webhook.id)))


def get_webhook(webhook_id: int) -> Webhook:
    hook = db.session.scalar(select(Webhook).where(Webhook.id == webhook_id))
    if hook is None:
        raise NotFound("webhook")
    return hook


def rotate_secret(*, actor: User | None, client: Client, hook: Webhook) -> str:
    secret = new_secret()
    hook.previous_secret = hook.secret
    hook.previous_secret_until = datetime.now(UTC) + ROTATION_OVERLAP
    hook.secret = seal(secret)
    record(
        "webhook.secret_rotated",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=hook.url,
    )
    return secret


def enable(*, actor: User | None, client: Client, hook: Webhook) -> None:
    check_url(hook.url)
    hook.enabled, hook.disabled_reason, hook.failing_since = True, "", None
    record("webhook.enabled", actor=actor, agency_id=client.agency_id, client_id=client.id, target=hook.url)


def delete_webhook(*, actor: User | None, client: Client, hook: Webhook) -> None:
    record("webhook.deleted", actor=actor, agency_id=client.agency_id, client_id=client.id, target=hook.url)
    db.session.delete(hook)
    db.session.flush()
