"""Which backend carries a campaign, and the per-message backend objects a worker keeps between batches.

The connection is resolved once, when the send starts (`Campaign.connection_id`), by
`services.connections.resolve_connection`; workers build the backend from that row. Provider-side
campaign backends (MailUp) plug in beside PER_MESSAGE_KINDS; `refusal` says, before anything changes,
why a connection cannot carry a channel, for the start of a send and for the sweeper alike.
"""

from __future__ import annotations

import threading

from flask import current_app
from sqlalchemy import select

from ..backends.base import BackendUnavailable, MessageBackend
from ..backends.mailup.sms import MailupSms
from ..backends.ratelimit import TokenBucket
from ..backends.sms_gateway import GatewayConfig, SmsGateway
from ..backends.smtp import RelayConfig, SmtpRelay
from ..crypto import decrypt_json
from ..extensions import db
from ..jobs.queueing import redis_connection
from ..links import agency_base_url
from ..models import Agency, Connection
from ..models.connection import KIND_MAILUP, KIND_SMS, KIND_SMTP
from ..providers.connection import PROVIDER_KINDS, provider_client
from ..tenancy import all_tenants

PER_MESSAGE = "per-message"
# Kinds that send one message at a time through this loop, per channel. The MailUp and SMS issues add
# their kinds here (and a provider-side path for campaign backends).
PER_MESSAGE_KINDS = {"email": (KIND_SMTP,), "sms": (KIND_SMS, KIND_MAILUP)}

# One reused connection per backend per worker (thread-local: a connection is never shared between
# threads), with the settings it was built from: a connection edited in the back-office (new host, new
# password) is rebuilt at the next batch.
_local = threading.local()


def _cache() -> dict[str, tuple[object, list[MessageBackend]]]:
    if not hasattr(_local, "backends"):
        _local.backends = {}
    return _local.backends


def backend_key(connection_id: int | None) -> str:
    return f"connection-{connection_id}" if connection_id else "platform"


def refusal(connection: Connection | None, channel: str) -> str | None:
    """Why this connection cannot send campaigns on this channel (None: it can). Never names the provider."""
    if connection is None:
        return None if channel == "email" else "This account has no SMS delivery connection. Ask your agency."
    if connection.kind in PER_MESSAGE_KINDS.get(channel, ()):
        return None
    if connection.kind in PROVIDER_KINDS.get(channel, ()):  # provider-side: portal/providers/send.py
        return None
    return f"This account's delivery connection cannot send {channel} campaigns yet. Ask your agency."


def message_backends(connection_id: int | None) -> list[MessageBackend]:
    """The worker's backends for a connection (None: the platform's relay), created on first use: as many
    as the backend has lanes (base.py), each with its own connection."""
    key, version = backend_key(connection_id), _version(connection_id)
    cache = _cache()
    cached = cache.get(key)
    if cached is None or cached[0] != version:
        if cached is not None:
            _close(cached[1])
        first = _build(connection_id, key)
        cache[key] = (version, [first] + [_build(connection_id, key) for _ in range(first.lanes - 1)])
    return cache[key][1]


def _close(backends: list[MessageBackend]) -> None:
    for backend in backends:
        backend.close()


def _version(connection_id: int | None) -> object:
    if connection_id is None:
        s = current_app.config["PORTAL_SETTINGS"]
        return (s.smtp_host, s.smtp_port, s.smtp_tls, s.smtp_user, s.smtp_password)
    return (
        connection_id,
        db.session.scalar(select(Connection.updated_at).where(Connection.id == connection_id)),
    )


def new_backend(connection_id: int | None) -> MessageBackend:
    """A backend of its own (test sends): the caller closes it."""
    return _build(connection_id, backend_key(connection_id))


def forget_backend(connection_id: int | None) -> None:
    """Close and drop a backend (after it failed, so the next batch starts from a fresh connection)."""
    cached = _cache().pop(backend_key(connection_id), None)
    if cached is not None:
        _close(cached[1])


def _build(connection_id: int | None, key: str) -> MessageBackend:
    if connection_id is None:
        s = current_app.config["PORTAL_SETTINGS"]
        config = RelayConfig(
            host=s.smtp_host,
            port=s.smtp_port,
            tls=s.smtp_tls,
            username=s.smtp_user,
            password=s.smtp_password,
            key=key,
        )
    else:
        conn = db.session.scalar(select(Connection).where(Connection.id == connection_id))
        if conn is not None and conn.kind == KIND_SMS:
            return SmsGateway(gateway_config(conn))
        if conn is not None and conn.kind == KIND_MAILUP:  # only SMS reaches here: email is provider-side
            opts = conn.options or {}
            return MailupSms(provider_client(conn), int(opts.get("sms_list_id") or opts.get("list_id") or 1))
        if conn is None or conn.kind != KIND_SMTP:
            raise BackendUnavailable("this account's delivery connection cannot send campaigns")
        opts, secret = conn.options or {}, decrypt_json(conn.secrets_encrypted)
        config = RelayConfig(
            host=opts.get("host", ""),
            port=int(opts.get("port", 587)),
            tls=opts.get("tls", "starttls"),
            username=opts.get("username", ""),
            password=secret.get("password", ""),
            rate_per_s=float(opts.get("rate_per_second", 0) or 0),
            key=key,
        )
    bucket = TokenBucket(redis_connection(), config.key, config.rate_per_s) if config.rate_per_s else None
    return SmtpRelay(config, bucket)


def gateway_config(conn: Connection) -> GatewayConfig:
    """An HTTP SMS gateway connection's settings. Delivery reports come back to the agency's own domain
    at /hooks/sms/<token>/report (portal/sms/hooks.py); without a token the gateway reports nothing and
    credits are consumed when a message is accepted."""
    opts, secret = conn.options or {}, decrypt_json(conn.secrets_encrypted)
    token = opts.get("hook_token", "")
    with all_tenants():
        agency = db.session.get(Agency, conn.agency_id)
    callback = f"{agency_base_url(agency)}/hooks/sms/{token}/report" if token and agency else ""
    template = opts.get("request_template") or None
    return GatewayConfig(
        endpoint=opts.get("endpoint", ""),
        auth=opts.get("auth", "bearer"),
        api_key=secret.get("api_key", ""),
        auth_header=opts.get("auth_header", "X-Api-Key"),
        **({"template": template} if isinstance(template, dict) else {}),
        id_field=opts.get("id_field", "id"),
        callback_url=callback,
        reports=bool(callback) and opts.get("reports", True) is not False,
    )
