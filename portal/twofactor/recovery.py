"""Recovery codes: ten per user, each usable once, shown once, stored as argon2 hashes.

Why argon2 (portal/passwords.py) rather than a fast keyed hash: a code is typed by people, so it is short
(10 characters from a 31-letter alphabet, about 49 bits); a slow, salted hash keeps a stolen database
from yielding codes, and it needs no extra key that a rotation of SECRET_KEY or of the encryption keys
could invalidate. The cost stays bounded: at most ten verifications per attempt, only for input that is
not a 6-digit TOTP code, and attempts are throttled like passwords.
"""

from __future__ import annotations

import re
import secrets

from ..passwords import hash_password, verify_password

COUNT = 10
LENGTH = 10
# No 0/o, 1/l/i: codes get copied from paper.
ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"


def generate() -> list[str]:
    return ["".join(secrets.choice(ALPHABET) for _ in range(LENGTH)) for _ in range(COUNT)]


def display(code: str) -> str:
    half = LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


def normalise(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def hash_code(code: str) -> str:
    return hash_password(normalise(code))


def matches(code_hash: str, code: str) -> bool:
    code = normalise(code)
    return len(code) == LENGTH and verify_password(code_hash, code)
