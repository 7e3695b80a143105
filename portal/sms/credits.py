"""The SMS credit ledger: platform → agency pool → client → reserved → consumed or released.

Every movement is one append-only `CreditEntry` plus the change it makes to the balance rows
(`CreditAccount`), in the same transaction. A debit is a conditional UPDATE (`... WHERE available >= n`):
on PostgreSQL the row lock it takes makes a concurrent debit wait and re-check the condition against the
committed value, on SQLite writers are serialised, so two workers or two campaigns can never take a
balance below zero, and the balances always equal the sums of the ledger (`ledger_balances` recomputes
them from the entries; the tests compare both). Services flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select, update

from ..extensions import db
from ..models import Client, CreditAccount, CreditEntry, User
from ..models.sms import (
    ENTRY_ALLOCATE,
    ENTRY_CONSUME,
    ENTRY_GRANT,
    ENTRY_OPENING,
    ENTRY_RELEASE,
    ENTRY_RESERVE,
    ENTRY_REVOKE,
)
from ..services import DomainError
from ..services.audit import record
from ..services.i18n_safe import _

MAX_MOVEMENT = 100_000_000


class NotEnoughCredits(DomainError):
    """A debit larger than the balance: nothing was written."""

    def __init__(self, message: str, *, needed: int, available: int):
        super().__init__(message)
        self.needed, self.available = needed, available


@dataclass(frozen=True)
class Balance:
    available: int
    reserved: int


def _account(agency_id: int, client_id: int | None) -> CreditAccount:
    """The balance row (created on first use; the unique constraint makes a concurrent creation fail
    loudly instead of doubling the account)."""
    account = db.session.scalar(
        select(CreditAccount).where(
            CreditAccount.agency_id == agency_id,
            CreditAccount.client_id.is_(None) if client_id is None else CreditAccount.client_id == client_id,
        )
    )
    if account is None:
        account = CreditAccount(agency_id=agency_id, client_id=client_id, available=0, reserved=0)
        db.session.add(account)
        db.session.flush()
    return account


def _check_amount(amount: int) -> int:
    amount = int(amount)
    if amount <= 0 or amount > MAX_MOVEMENT:
        raise DomainError(_("The number of credits must be between 1 and %(max)s.", max=f"{MAX_MOVEMENT:,}"))
    return amount


def _move(account: CreditAccount, *, available: int = 0, reserved: int = 0) -> bool:
    """Add the deltas to the row if no balance goes below zero; False (nothing changed) otherwise."""
    conditions = [CreditAccount.id == account.id]
    if available < 0:
        conditions.append(CreditAccount.available >= -available)
    if reserved < 0:
        conditions.append(CreditAccount.reserved >= -reserved)
    changed = db.session.execute(
        update(CreditAccount)
        .where(*conditions)
        .values(available=CreditAccount.available + available, reserved=CreditAccount.reserved + reserved)
        .execution_options(synchronize_session=False)
    ).rowcount
    return changed == 1


def _entry(agency_id: int, client_id: int | None, kind: str, amount: int, **kw) -> CreditEntry:
    entry = CreditEntry(agency_id=agency_id, client_id=client_id, kind=kind, amount=amount, **kw)
    db.session.add(entry)
    db.session.flush()
    return entry


def balance(agency_id: int, client_id: int | None = None) -> Balance:
    """The balance row of the agency's pool (client_id None) or of a client, as committed so far."""
    row = db.session.execute(
        select(CreditAccount.available, CreditAccount.reserved).where(
            CreditAccount.agency_id == agency_id,
            CreditAccount.client_id.is_(None) if client_id is None else CreditAccount.client_id == client_id,
        )
    ).first()
    return Balance(int(row[0]), int(row[1])) if row else Balance(0, 0)


def ledger_balances(agency_id: int, client_id: int | None = None) -> Balance:
    """The same balance recomputed from the entries alone (the ledger is the truth; the row its sum)."""

    def signed(kinds_plus: tuple[str, ...], kinds_minus: tuple[str, ...]):
        return func.coalesce(
            func.sum(
                case(
                    (CreditEntry.kind.in_(kinds_plus), CreditEntry.amount),
                    (CreditEntry.kind.in_(kinds_minus), -CreditEntry.amount),
                    else_=0,
                )
            ),
            0,
        )

    if client_id is None:
        pool = db.session.scalar(
            select(signed((ENTRY_GRANT, ENTRY_REVOKE), (ENTRY_ALLOCATE,))).where(
                CreditEntry.agency_id == agency_id,
                (CreditEntry.client_id.is_(None)) | CreditEntry.kind.in_((ENTRY_ALLOCATE, ENTRY_REVOKE)),
            )
        )
        return Balance(int(pool), 0)
    available, reserved = db.session.execute(
        select(
            signed((ENTRY_OPENING, ENTRY_ALLOCATE, ENTRY_RELEASE), (ENTRY_REVOKE, ENTRY_RESERVE)),
            signed((ENTRY_RESERVE,), (ENTRY_CONSUME, ENTRY_RELEASE)),
        ).where(CreditEntry.agency_id == agency_id, CreditEntry.client_id == client_id)
    ).one()
    return Balance(int(available), int(reserved))


def grant_pool(*, actor: User | None, agency_id: int, amount: int, note: str = "") -> CreditEntry:
    """The platform gives an agency credits to sell."""
    amount = _check_amount(amount)
    _move(_account(agency_id, None), available=amount)
    entry = _entry(agency_id, None, ENTRY_GRANT, amount, actor_id=actor.id if actor else None, note=note)
    record("sms.credits_granted", actor=actor, agency_id=agency_id, amount=amount)
    return entry


def open_balance(*, agency_id: int, client_id: int, amount: int, note: str = "") -> CreditEntry | None:
    """A client's starting balance outside the pool (balances carried over from before the ledger, the
    development seed); nothing for 0."""
    if int(amount) <= 0:
        return None
    amount = _check_amount(amount)
    _move(_account(agency_id, client_id), available=amount)
    return _entry(agency_id, client_id, ENTRY_OPENING, amount, note=note or "opening balance")


def allocate(*, actor: User | None, client: Client, amount: int, note: str = "") -> CreditEntry:
    """Agency pool → client. Refused, with nothing written, beyond what the pool holds."""
    amount = _check_amount(amount)
    pool = _account(client.agency_id, None)
    target = _account(client.agency_id, client.id)
    if not _move(pool, available=-amount):
        left = balance(client.agency_id).available
        raise NotEnoughCredits(
            _(
                "The agency's SMS credit pool holds %(left)s credits; %(amount)s cannot be given.",
                left=f"{left:,}",
                amount=f"{amount:,}",
            ),
            needed=amount,
            available=left,
        )
    _move(target, available=amount)
    entry = _entry(
        client.agency_id, client.id, ENTRY_ALLOCATE, amount, actor_id=actor.id if actor else None, note=note
    )
    record(
        "sms.credits_allocated",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=client.slug,
        amount=amount,
    )
    return entry


def revoke(*, actor: User | None, client: Client, amount: int, note: str = "") -> CreditEntry:
    """Client → agency pool, only from what the client has not reserved."""
    amount = _check_amount(amount)
    if not _move(_account(client.agency_id, client.id), available=-amount):
        left = balance(client.agency_id, client.id).available
        raise NotEnoughCredits(
            _(
                "This client has %(left)s credits available; %(amount)s cannot be taken back.",
                left=f"{left:,}",
                amount=f"{amount:,}",
            ),
            needed=amount,
            available=left,
        )
    _move(_account(client.agency_id, None), available=amount)
    entry = _entry(
        client.agency_id, client.id, ENTRY_REVOKE, amount, actor_id=actor.id if actor else None, note=note
    )
    record(
        "sms.credits_revoked",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=client.slug,
        amount=amount,
    )
    return entry


def reserve(*, agency_id: int, client_id: int, amount: int, campaign_id: int | None) -> CreditEntry | None:
    """Available → reserved for a campaign that starts; NotEnoughCredits (nothing written) if short."""
    if int(amount) <= 0:
        return None
    amount = _check_amount(amount)
    if not _move(_account(agency_id, client_id), available=-amount, reserved=amount):
        left = balance(agency_id, client_id).available
        raise NotEnoughCredits(
            _(
                "This send needs %(amount)s SMS credits but only %(left)s are available. "
                "Ask your agency for more credits, or narrow the audience.",
                amount=f"{amount:,}",
                left=f"{left:,}",
            ),
            needed=amount,
            available=left,
        )
    return _entry(agency_id, client_id, ENTRY_RESERVE, amount, campaign_id=campaign_id)


def settle(*, agency_id: int, client_id: int, campaign_id: int | None, consumed: int, released: int) -> None:
    """Reserved → consumed and/or released. The callers move each delivery's credit_state conditionally
    first, so the same credits are never settled twice; the reserved balance covers them by construction
    and a failing condition here means the ledger was tampered with."""
    for kind, amount, back in ((ENTRY_CONSUME, consumed, 0), (ENTRY_RELEASE, released, released)):
        if amount <= 0:
            continue
        if not _move(_account(agency_id, client_id), available=back, reserved=-amount):
            raise RuntimeError(f"reserved SMS credits of client {client_id} do not cover {kind} {amount}")
        _entry(agency_id, client_id, kind, amount, campaign_id=campaign_id)


def entries(agency_id: int, client_id: int | None, *, limit: int = 200, offset: int = 0) -> list[CreditEntry]:
    query = select(CreditEntry).where(CreditEntry.agency_id == agency_id)
    if client_id is not None:
        query = query.where(CreditEntry.client_id == client_id)
    else:
        query = query.where(
            CreditEntry.client_id.is_(None) | CreditEntry.kind.in_((ENTRY_ALLOCATE, ENTRY_REVOKE))
        )
    return list(db.session.scalars(query.order_by(CreditEntry.id.desc()).limit(limit).offset(offset)))
