"""Re-encrypt every stored secret with the newest key (`portal rotate-keys`).

Procedure (README, "Rotating keys"): put the new Fernet key first in PORTAL_ENCRYPTION_KEYS, keep the old
ones after it, restart, run `portal rotate-keys`; once it reports nothing unreadable, drop the old keys.
Every encrypted column is listed in ENCRYPTED_COLUMNS (a column marked `info={"encrypted": True}` is
found too), so a secret added later is not forgotten by a rotation: tests/test_key_rotation.py checks
that every column holding a Fernet token after the demo seed is covered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from cryptography.fernet import InvalidToken
from sqlalchemy import Column, select, update

from ..crypto import rotate
from ..extensions import db
from ..services.audit import record
from ..tenancy import all_tenants

# table -> columns holding Fernet tokens (portal/crypto.py)
ENCRYPTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "connection": ("secrets_encrypted",),  # SMTP/provider/SMS gateway credentials
    "sender_domain": ("dkim_private_key",),  # DKIM signing keys
    "totp_credential": ("secret_encrypted",),  # two-factor secrets
    "batch_source": ("secrets_encrypted",),  # FTP/SFTP passwords
    "webhook": ("secret", "previous_secret"),  # webhook signing secrets
}


@dataclass
class RotationReport:
    rotated: Counter = field(default_factory=Counter)  # "table.column" -> secrets re-encrypted
    unreadable: list[str] = field(default_factory=list)  # "table.column #id" no configured key can read

    @property
    def total(self) -> int:
        return sum(self.rotated.values())


def encrypted_columns() -> list[Column]:
    found = []
    for table in db.metadata.sorted_tables:
        names = set(ENCRYPTED_COLUMNS.get(table.name, ()))
        names |= {c.name for c in table.columns if c.info.get("encrypted")}
        found += [table.c[name] for name in sorted(names) if name in table.c]
    return found


def rotate_all(batch: int = 500) -> RotationReport:
    """Re-encrypt every secret with the newest key, one committed batch at a time (a crash half-way
    leaves every secret readable: old and new keys are both configured while this runs)."""
    report = RotationReport()
    with all_tenants():
        for column in encrypted_columns():
            _rotate_column(column, report, batch)
        record(
            "security.keys_rotated",
            actor=None,
            agency_id=None,
            target=f"{report.total} secrets",
            unreadable=len(report.unreadable),
        )
        db.session.commit()
    return report


def _rotate_column(column: Column, report: RotationReport, batch: int) -> None:
    table, key = column.table, column.table.c.id
    label = f"{table.name}.{column.name}"
    last = 0
    while True:
        rows = db.session.execute(
            select(key, column)
            .where(key > last, column.is_not(None), column != "")
            .order_by(key)
            .limit(batch)
            .execution_options(all_tenants=True)
        ).all()
        if not rows:
            return
        for row_id, token in rows:
            try:
                fresh = rotate(token)
            except InvalidToken:
                report.unreadable.append(f"{label} #{row_id}")
                continue
            db.session.execute(update(table).where(key == row_id).values({column.name: fresh}))
            report.rotated[label] += 1
        db.session.commit()
        last = rows[-1][0]
