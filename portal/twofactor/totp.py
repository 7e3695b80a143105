"""TOTP per RFC 6238 (SHA-1, 6 digits, 30-second steps — what every authenticator app speaks), via pyotp.

`matching_step` answers *which* time step a code belongs to, not just yes/no: the caller stores it so the
same code (or an older one) is refused afterwards. One step of clock skew either way is allowed, no more.
"""

from __future__ import annotations

import hmac
import re
import time

import pyotp
import segno

STEP_SECONDS = 30
SKEW_STEPS = 1
CODE_RE = re.compile(r"^\d{6}$")


def new_secret() -> str:
    """160 random bits from the OS CSPRNG, base32 as authenticator apps expect."""
    return pyotp.random_base32()


def normalise(code: str) -> str:
    """People type codes with spaces or a dash in the middle ("123 456"); compare digits only."""
    return re.sub(r"[\s-]", "", code or "")


def looks_like_totp(code: str) -> bool:
    return bool(CODE_RE.match(normalise(code)))


def current_step(at: float | None = None) -> int:
    return int((time.time() if at is None else at) // STEP_SECONDS)


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, interval=STEP_SECONDS).generate_otp(step)


def matching_step(secret: str, code: str, *, after: int | None, at: float | None = None) -> int | None:
    """The time step (within ±1 of now) whose code this is, and which is later than `after` — the last
    step already accepted for this secret — or None. Compared in constant time."""
    code = normalise(code)
    if not CODE_RE.match(code):
        return None
    now = current_step(at)
    found = None
    for step in range(now - SKEW_STEPS, now + SKEW_STEPS + 1):
        if hmac.compare_digest(code_at(secret, step), code) and (after is None or step > after):
            found = step
    return found


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The otpauth:// URI of the QR code; the issuer is the brand the user signs in to (white-label)."""
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str, *, title: str) -> str:
    """The QR code as an inline <svg> (no script, no external reference: fine under the page's CSP)."""
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff", title=title)


def grouped(secret: str) -> str:
    """The secret in groups of four, as people type it into an app that cannot scan."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
