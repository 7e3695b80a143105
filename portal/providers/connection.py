"""The provider client of one connection. Secrets are read here and only here (the client keeps them
inside its config); the token cache and the account's rate limit live in Redis, shared by every worker.

`options["api_base"]` points every REST base at one host (the local emulator in development and tests);
without it the provider's real hosts are used.
"""

from __future__ import annotations

from ..backends.mailup import MailupClient, MailupConfig
from ..crypto import decrypt_json
from ..jobs.queueing import redis_connection
from ..models import Connection
from ..models.connection import KIND_MAILUP

DEFAULT_RATE = 5.0  # calls per second per account (§14)

# Kinds whose provider sends whole campaigns itself, per channel.
PROVIDER_KINDS = {"email": (KIND_MAILUP,), "sms": ()}


def is_provider_side(connection: Connection | None, channel: str = "email") -> bool:
    return connection is not None and connection.kind in PROVIDER_KINDS.get(channel, ())


def provider_client(connection: Connection) -> MailupClient:
    opts, secrets = connection.options or {}, decrypt_json(connection.secrets_encrypted)
    values = {
        "username": opts.get("username", ""),
        "password": secrets.get("password", ""),
        "client_id": opts.get("client_id", ""),
        "client_secret": secrets.get("client_secret", ""),
        "connection_key": f"connection-{connection.id}",
        "console_host": opts.get("console_host", "") if not opts.get("api_base") else "",
        "rate_per_s": float(opts.get("rate_per_second") or DEFAULT_RATE),
    }
    if opts.get("backoff_seconds"):  # the first retry's pause (tests and the emulator need no 0.5 s)
        values["backoff_base_s"] = float(opts["backoff_seconds"])
    base = opts.get("api_base")
    config = MailupConfig.for_base(base, **values) if base else MailupConfig(**values)
    return MailupClient(config, redis_connection())
