"""An HTTP SMS gateway connection for an agency, with the secret token its callbacks carry, and the
binding of a client's SMS channel to it (used by the development seed and by the tests; the back-office
edits the same options)."""

from __future__ import annotations

import secrets

from ..crypto import encrypt_json
from ..extensions import db
from ..models import Client, Connection
from ..models.connection import KIND_SMS


def create_gateway_connection(
    *, agency_id: int, name: str, endpoint: str, api_key: str, auth: str = "bearer", reports: bool = True
) -> Connection:
    connection = Connection(
        agency_id=agency_id,
        kind=KIND_SMS,
        name=name,
        options={
            "provider": "http",
            "endpoint": endpoint,
            "auth": auth,
            "id_field": "id",
            "reports": reports,
            "hook_token": secrets.token_urlsafe(24),
        },
        secrets_encrypted=encrypt_json({"api_key": api_key}),
    )
    db.session.add(connection)
    db.session.flush()
    return connection


def bind_sms(client: Client, connection: Connection) -> None:
    client.sms_connection_id = connection.id
    db.session.flush()
