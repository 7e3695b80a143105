"""A secret that no configured key can read: say so once, clearly, and stop (checklist G38 b).

Pages show a banner naming the setting (PORTAL_ENCRYPTION_KEYS) and what to do, instead of a 500; a send
job pauses its campaign with a reason the client can read and records one security event, instead of
failing, being retried and being requeued by the sweeper for ever.
"""

from __future__ import annotations

from flask import current_app

from ..crypto import SecretError, decrypt_json
from ..extensions import db
from ..services.audit import record
from ..tenancy import all_tenants

# Shown to clients (the campaign's pause reason): it names nobody's provider.
SEND_REASON = (
    "Sending paused: the stored {what} cannot be read with this installation's encryption keys. "
    "Nothing was sent from this point; enter the {what} again (or ask your agency to), then resume."
)


def readable_or_none(token: str) -> dict | None:
    """The decrypted secret, or None when no configured key can read it."""
    try:
        return decrypt_json(token)
    except SecretError:
        return None


def record_unreadable(*, what: str, target: str, agency_id: int | None) -> None:
    """One security event for the operator's log (platform-level) and one log line."""
    current_app.logger.error("security: %s of %s cannot be decrypted with the configured keys", what, target)
    with all_tenants():
        record(
            "security.secret_unreadable",
            actor=None,
            agency_id=None,
            target=target[:255],
            what=what,
            agency=agency_id if agency_id is not None else "",
        )
        db.session.flush()  # now: a flush under the job's tenant would stamp its agency on the row
