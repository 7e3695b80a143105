"""Secrets at rest: MultiFernet over PORTAL_ENCRYPTION_KEYS (newest key first, older keys still decrypt)."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


class SecretError(RuntimeError):
    pass


def _fernet() -> MultiFernet:
    keys = current_app.config["PORTAL_SETTINGS"].encryption_keys
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError as exc:  # malformed key: say which setting, never the key itself
        raise SecretError("PORTAL_ENCRYPTION_KEYS holds a malformed Fernet key") from exc


def encrypt_json(data: dict) -> str:
    return _fernet().encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise SecretError("stored secret cannot be decrypted with the configured keys") from exc


def rotate(token: str) -> str:
    """Re-encrypt with the newest key (used by the key-rotation command)."""
    return _fernet().rotate(token.encode()).decode() if token else token
