"""Password hashing with argon2id at explicit OWASP parameters (m=19 MiB, t=2, p=1)."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 256

_hasher = PasswordHasher(
    time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)
# Verified against when the e-mail is unknown so both paths cost the same (no account enumeration by timing).
_DUMMY_HASH = _hasher.hash("dummy-password-for-timing")

# A short list of the most common passwords; users get a clear message instead of a weak account.
COMMON_PASSWORDS = frozenset(
    """123456 123456789 12345678 password qwerty123 qwerty 1q2w3e4r 111111 12345 1234567890 1234567
    password1 123123 abc123 iloveyou 000000 qwertyuiop admin123 welcome letmein monkey dragon football
    baseball sunshine princess passw0rd password123 changeme trustno1 superman""".split()
)


class WeakPassword(ValueError):
    pass


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Use at most {MAX_LENGTH} characters.")
    if password.lower() in COMMON_PASSWORDS:
        raise WeakPassword("This password is too common; choose another.")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
