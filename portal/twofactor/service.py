"""Second-factor operations. They flush, never commit; side effects (the reset email) go out after commit.

Every change of a user's second factor rotates their session token: other sessions end (ASVS 7.5.1) and
the view re-issues the current one. Each is an audit event.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, or_, select, update

from ..crypto import SecretError, decrypt_json, encrypt_json
from ..extensions import db
from ..keys.unreadable import readable_or_none, record_unreadable
from ..models import Agency, RecoveryCode, TotpCredential, User
from ..models.user import AGENCY_ROLES, CLIENT_ROLES, ROLE_AGENCY_OWNER, new_session_token
from ..services import DomainError
from ..services.audit import record
from ..services.i18n_safe import _
from ..services.notifications import queue_email
from ..tenancy import all_tenants
from . import policy, recovery, totp


@dataclass(frozen=True)
class CodeCheck:
    """What a code typed at sign-in turned out to be."""

    method: str | None  # "totp", "recovery", or None when refused
    recovery_left: int | None = None


def _scope(user: User):
    """Platform administrators' rows carry no agency: reach them with the explicit opt-out."""
    return all_tenants() if user.agency_id is None else nullcontext()


def _secret(credential: TotpCredential) -> str:
    return decrypt_json(credential.secret_encrypted)["totp"]


def enrol(user: User, *, secret: str, code: str) -> list[str]:
    """Confirm a new TOTP secret with one of its codes; returns the recovery codes (shown once)."""
    if user.totp is not None:
        raise DomainError(_("Two-factor sign-in is already on for this account."))
    step = totp.matching_step(secret, code, after=None)
    if step is None:
        raise DomainError(_("That code is not right. Type the code your app shows now."))
    with _scope(user):
        # The confirming code's step counts as used: it cannot also open a session.
        user.totp = TotpCredential(
            agency_id=user.agency_id, secret_encrypted=encrypt_json({"totp": secret}), last_step=step
        )
        codes = _replace_recovery_codes(user)
        user.session_token = new_session_token()
        record("two_factor.enabled", actor=user, agency_id=user.agency_id, target=user.email)
        db.session.flush()
    return codes


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = recovery.generate()
    db.session.add_all(
        RecoveryCode(agency_id=user.agency_id, user_id=user.id, code_hash=recovery.hash_code(code))
        for code in codes
    )
    return [recovery.display(code) for code in codes]


def renew_recovery_codes(user: User) -> list[str]:
    """Ten fresh codes; the old ones stop working."""
    with _scope(user):
        codes = _replace_recovery_codes(user)
        record("two_factor.recovery_codes_renewed", actor=user, agency_id=user.agency_id, target=user.email)
        db.session.flush()
    return codes


def recovery_codes_left(user: User) -> int:
    with _scope(user):
        return db.session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        )


def accept_totp(user: User, code: str) -> bool:
    """A current code, accepted at most once: the conditional UPDATE of `last_step` lets exactly one of
    two concurrent requests with the same code through, on SQLite and PostgreSQL alike."""
    credential = user.totp
    if credential is None:
        return False
    try:
        secret = _secret(credential)
    except SecretError:
        # Written with a key no longer configured: no code can match; the operator hears of it and the
        # code page says what to do (a recovery code, or a reset) instead of failing with a 500.
        record_unreadable(what="two-factor secret", target=user.email, agency_id=user.agency_id)
        return False
    step = totp.matching_step(secret, code, after=credential.last_step)
    if step is None:
        return False
    claimed = db.session.execute(
        update(TotpCredential)
        .where(
            TotpCredential.id == credential.id,
            or_(TotpCredential.last_step.is_(None), TotpCredential.last_step < step),
        )
        .values(last_step=step)
    )
    return claimed.rowcount == 1


def totp_readable(user: User) -> bool:
    """False when the user's TOTP secret exists but no configured key can read it."""
    return user.totp is None or readable_or_none(user.totp.secret_encrypted) is not None


def use_recovery_code(user: User, code: str) -> int | None:
    """Spend one recovery code; returns how many are left, or None when the code is not (or no longer)
    valid."""
    with _scope(user):
        unused = db.session.scalars(
            select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        ).all()
        for row in unused:
            if not recovery.matches(row.code_hash, code):
                continue
            claimed = db.session.execute(
                update(RecoveryCode)
                .where(RecoveryCode.id == row.id, RecoveryCode.used_at.is_(None))
                .values(used_at=datetime.now(UTC))
            )
            if claimed.rowcount != 1:
                return None  # spent by a concurrent request a moment ago
            left = len(unused) - 1
            record(
                "two_factor.recovery_code_used",
                actor=user,
                agency_id=user.agency_id,
                target=user.email,
                left=left,
            )
            return left
    return None


def check_code(user: User, code: str) -> CodeCheck:
    """The second step of sign-in: a 6-digit code from the app, or else a recovery code."""
    if totp.looks_like_totp(code):
        if accept_totp(user, code):
            return CodeCheck("totp")
    else:
        left = use_recovery_code(user, code)
        if left is not None:
            return CodeCheck("recovery", left)
    record("two_factor.failed", actor=None, agency_id=user.agency_id, target=user.email)
    return CodeCheck(None)


def verify_any(user: User, code: str) -> bool:
    """Re-authentication before a change of the second factor itself: a current code or a recovery code."""
    return check_code(user, code).method is not None


def _remove(user: User) -> None:
    with _scope(user):
        user.totp = None
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        user.session_token = new_session_token()


def disable(user: User, agency: Agency | None) -> None:
    if user.totp is None:
        raise DomainError(_("Two-factor sign-in is not on for this account."))
    if policy.required_for(user, agency):
        raise DomainError(_("Your account must use two-factor sign-in: it cannot be turned off."))
    _remove(user)
    record("two_factor.disabled", actor=user, agency_id=user.agency_id, target=user.email)
    with _scope(user):
        db.session.flush()


def may_reset(actor: User, user: User) -> bool:
    """Operators reset agency owners; an agency owner resets the agency's other staff and its clients'
    users. Nobody resets their own (they have recovery codes, or ask the level above)."""
    if actor.id == user.id:
        return False
    if actor.is_platform_admin:
        return user.role == ROLE_AGENCY_OWNER
    if actor.role == ROLE_AGENCY_OWNER:
        return user.agency_id == actor.agency_id and user.role in (*AGENCY_ROLES, *CLIENT_ROLES)
    return False


def reset(*, actor: User, user: User, agency: Agency) -> None:
    """Remove a user's second factor for them (lost phone); they are told by email. Where the agency
    requires one, they enrol again at their next sign-in."""
    if not may_reset(actor, user):
        raise DomainError(_("You cannot reset the two-factor sign-in of this account."))
    if user.totp is None:
        raise DomainError(_("%(email)s has no two-factor sign-in to reset.", email=user.email))
    _remove(user)
    record("two_factor.reset", actor=actor, agency_id=user.agency_id, target=user.email)
    queue_email(
        agency=agency,
        user=user,
        template="two_factor_reset",
        subject=_("Your two-factor sign-in was reset"),
        by_platform=actor.is_platform_admin,
        actor=actor,
        required=policy.required_for(user, agency),
    )
    db.session.flush()


def set_requirements(*, actor: User, agency: Agency, staff: bool, clients: bool) -> bool:
    """The agency's two requirements; returns whether anything changed. Users already signed in without a
    second factor are led to enrolment on their next request (portal/guards.py)."""
    if (agency.two_factor_staff_required, agency.two_factor_clients_required) == (staff, clients):
        return False
    agency.two_factor_staff_required = staff
    agency.two_factor_clients_required = clients
    record(
        "agency.two_factor_changed",
        actor=actor,
        agency_id=agency.id,
        target=agency.slug,
        staff="required" if staff else "optional",
        clients="required" if clients else "optional",
    )
    db.session.flush()
    return True
