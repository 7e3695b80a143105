"""Test copies of a campaign, through the backend its real send would use, subject prefixed "[Test] ".

They carry every header of a real message, built for delivery id 0: no delivery has that id, so their
unsubscribe, preferences and view links answer a harmless page and change nothing. Links are not tracked
and there is no open pixel (there is no delivery to count them on)."""

from __future__ import annotations

from sqlalchemy import select

from ..backends.base import BackendError
from ..extensions import db
from ..models import Campaign, Client
from ..providers.connection import is_provider_side
from ..providers.send import send_tests
from ..providers.translate import UntranslatableContent
from ..services.connections import resolve_connection
from .backend import new_backend
from .email_content import MessageError, compose, email_content


class CopyNotSent(Exception):
    """The backend did not take a test copy; the text is safe to show (it never names the provider)."""


def send_test_messages(campaign: Campaign, addresses: list[str], values: dict) -> int:
    client = db.session.scalar(select(Client).where(Client.id == campaign.client_id))
    connection = resolve_connection(client, campaign.channel or "email")
    if is_provider_side(connection, campaign.channel or "email"):
        try:
            return send_tests(campaign, connection, addresses, values)
        except (BackendError, UntranslatableContent) as exc:
            raise CopyNotSent(str(exc)) from exc
    content = email_content(campaign, test=True)
    sent, backend = 0, None
    try:
        backend = new_backend(connection.id if connection is not None else None)
        for address in addresses:
            message = compose(content, 0, address, values, subject_prefix="[Test] ")
            backend.send(message)
            sent += 1
    except (BackendError, MessageError) as exc:
        raise CopyNotSent(str(exc)) from exc
    finally:
        if backend is not None:
            backend.close()
    return sent
