"""Opaque, unforgeable tokens for links in campaign email (unsubscribe, open, click, view, VERP).

A token carries the delivery id (and for clicks the link number) plus a 128-bit HMAC-SHA256 tag under a key
derived from SECRET_KEY and the token's purpose, so a token of one kind never works as another. The
database is never searched with an unverified token: a tampered token is a 404 before any query.

Tokens are made with the current SECRET_KEY and read with it or any of PORTAL_OLD_SECRET_KEYS, newest
first: links in emails already delivered keep working across a SECRET_KEY rotation (checklist G38).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import struct

from flask import current_app

_TAG = 16


def _secrets() -> list[str]:
    """The current SECRET_KEY, then the earlier ones, newest first."""
    return [current_app.config["SECRET_KEY"], *current_app.config["PORTAL_SETTINGS"].old_secret_keys]


@functools.lru_cache(maxsize=64)
def _derived_key(secret: str, purpose: str) -> bytes:
    """Derived once per secret and purpose: every campaign message makes eight tokens."""
    return hmac.digest(secret.encode(), b"portal-mail-token:" + purpose.encode(), "sha256")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@functools.lru_cache(maxsize=64)
def _keyed(secret: str, purpose: str) -> hmac.HMAC:
    return hmac.new(_derived_key(secret, purpose), digestmod=hashlib.sha256)


def _tag(secret: str, purpose: str, payload: bytes) -> bytes:
    """A copy of a keyed HMAC rather than the one-shot `hmac.digest`: the one-shot lets go of the GIL
    around OpenSSL, and a send worker (eight tokens per message, other threads busy) then waits up to a
    switch interval each time to get it back. The copy is also cheaper: the key is not set up again."""
    mac = _keyed(secret, purpose).copy()
    mac.update(payload)
    return mac.digest()[:_TAG]


def make(purpose: str, *numbers: int) -> str:
    payload = struct.pack(f">{len(numbers)}Q", *numbers)
    return _b64(payload + _tag(current_app.config["SECRET_KEY"], purpose, payload))


def read(purpose: str, token: str, count: int = 1) -> tuple[int, ...] | None:
    """The numbers inside a valid token of this purpose, or None (any tampering, wrong purpose, garbage)."""
    try:
        raw = _unb64(token)
    except (ValueError, TypeError):
        return None
    if len(raw) != 8 * count + _TAG:
        return None
    payload, tag = raw[:-_TAG], raw[-_TAG:]
    for secret in _secrets():
        if hmac.compare_digest(tag, _tag(secret, purpose, payload)):
            return struct.unpack(f">{count}Q", payload)
    return None
