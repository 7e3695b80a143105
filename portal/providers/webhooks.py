"""The provider's outbound callbacks (reference §15.2): Subscribe, Unsubscribe, Changeprofile, Delete,
sent by GET or POST with parameter names the operator maps in the provider's console. The receiver sits
on a secret URL (`/hooks/e/<binding token>`, HTTPS on the agency's domain), which is the only check the
provider allows: it signs nothing, and its optional RC4 "encryption" is no security control, so the
callback is configured unencrypted and the token in the path identifies the binding.

Accepted names, case-insensitively (the forms the reference shows): the address in `email`,
`customerEmail` or `eml`; the event in `evt`, `event` or `EventType` (or implied by an
`unsubscribeDate`); the list in `idl`, `customerList`, `IdList` or `list` (a callback for another list of
a shared account is ignored); personal fields as `campoN`.
- Unsubscribe: the address is suppressed for the client (reason "unsubscribe", set-based path);
- Changeprofile: personal fields the binding maps update the contact's own values (the portal's
  contact stays the record; an address change arrives as unsubscribe + subscribe and is not followed);
- Subscribe, Delete: acknowledged, nothing changes (subscriptions are the portal's; the provider's
  list only mirrors the recipients the portal pushed).
"""

from __future__ import annotations

import re

from sqlalchemy import select

from ..extensions import db
from ..models import Client, Contact, Field, ProviderBinding
from ..tenancy import all_tenants
from .suppress import suppress_many

SOURCE = "email-api-callback"
_FIELD = re.compile(r"^campo(\d{1,2})$", re.I)


def binding_for_token(agency_id: int, token: str) -> ProviderBinding | None:
    with all_tenants():
        binding = db.session.scalar(select(ProviderBinding).where(ProviderBinding.webhook_token == token))
    if binding is None or binding.agency_id != agency_id:
        return None
    return binding


def _get(params: dict, *names: str) -> str:
    lowered = {k.lower(): v for k, v in params.items()}
    for name in names:
        value = lowered.get(name.lower())
        if value not in (None, ""):
            return str(value).strip()
    return ""


def handle_callback(binding: ProviderBinding, params: dict) -> bool:
    """Apply one callback (the binding's tenant bound); False when it was not for this binding's list or
    named no address. Flushes, never commits."""
    listed = _get(params, "idl", "customerList", "IdList", "list")
    if listed and listed != str(binding.list_id):
        return False
    email = _get(params, "email", "customerEmail", "eml")
    if "@" not in email:
        return False
    event = _get(params, "evt", "event", "EventType").upper()
    if not event and _get(params, "unsubscribeDate"):
        event = "UNSUBSCRIBE"
    client = db.session.scalar(select(Client).where(Client.id == binding.client_id))
    if event == "UNSUBSCRIBE":
        suppress_many(client, [(email, "unsubscribe", SOURCE, "")])
    elif event == "CHANGEPROFILE":
        _update_fields(binding, client, email, params)
    return True


def _update_fields(binding: ProviderBinding, client: Client, email: str, params: dict) -> None:
    by_provider_id = {
        int(v["id"]): int(number) for number, v in ((binding.field_map or {}).get("fields") or {}).items()
    }
    keys = dict(db.session.execute(select(Field.number, Field.key).where(Field.client_id == client.id)).all())
    changes = {}
    for name, value in params.items():
        m = _FIELD.match(name)
        if m and int(m.group(1)) in by_provider_id and by_provider_id[int(m.group(1))] in keys:
            changes[keys[by_provider_id[int(m.group(1))]]] = str(value)[:200]
    if not changes:
        return
    contact = db.session.scalar(
        select(Contact).where(Contact.client_id == client.id, Contact.email == email.strip().lower())
    )
    if contact is not None:
        contact.fields = {**(contact.fields or {}), **changes}
