"""A client's SMS settings: optional quiet hours (portal/sms/quiet.py)."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import Client, SmsClientSettings, User
from ..services import DomainError
from ..services.audit import record
from ..services.i18n_safe import _
from .quiet import format_hhmm, parse_hhmm


def quiet_hours(client_id: int) -> tuple[str, str]:
    row = db.session.scalar(select(SmsClientSettings).where(SmsClientSettings.client_id == client_id))
    if row is None:
        return "", ""
    return format_hhmm(row.quiet_from), format_hhmm(row.quiet_to)


def set_quiet_hours(*, actor: User | None, client: Client, start: str, end: str) -> None:
    """Both empty: no quiet hours. Otherwise both HH:MM and different."""
    row = db.session.scalar(select(SmsClientSettings).where(SmsClientSettings.client_id == client.id))
    if row is None:
        row = SmsClientSettings(agency_id=client.agency_id, client_id=client.id)
        db.session.add(row)
    if not (start or "").strip() and not (end or "").strip():
        row.quiet_from = row.quiet_to = None
    else:
        try:
            row.quiet_from, row.quiet_to = parse_hhmm(start), parse_hhmm(end)
        except ValueError:
            raise DomainError(
                _("Quiet hours: give a start and an end time as HH:MM, e.g. 21:00 and 09:00.")
            ) from None
        if row.quiet_from == row.quiet_to:
            raise DomainError(_("Quiet hours: the start and the end must differ."))
    db.session.flush()
    record(
        "sms.quiet_hours_changed",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=f"{format_hhmm(row.quiet_from)}–{format_hhmm(row.quiet_to)}"
        if row.quiet_from is not None
        else "off",
    )
