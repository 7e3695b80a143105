"""API keys of a client: create (the secret is shown once), revoke, and find the key a request names.

A key reads `pk_<prefix>_<secret>`: the prefix (public, unique) finds the row, the SHA-256 of the whole
key is compared in constant time. 256 random bits leave nothing for a slow hash to protect."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from ..extensions import db
from ..models import ApiKey, Client, User
from ..models.webservice import SCOPES
from ..services import DomainError, NotFound
from ..services.audit import record
from ..services.i18n_safe import _
from ..tenancy import all_tenants

MAX_SEEN_IPS = 50
DEFAULT_RATE_LIMIT = 120  # requests per minute
MAX_RATE_LIMIT = 6000


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str  # the whole key, shown once


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(raw) -> list[str]:
    items = raw.split(",") if isinstance(raw, str) else list(raw or [])
    scopes = sorted({s.strip().lower() for s in items if s and s.strip()})
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise DomainError(_("Unknown scope %(scope)s (use read, write, send).", scope=", ".join(unknown)))
    if not scopes:
        raise DomainError(_("Choose at least one scope."))
    return scopes


def create_key(
    *,
    actor: User | None,
    client: Client,
    name: str,
    scopes,
    expires_at: datetime | None = None,
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT,
) -> NewKey:
    name = (name or "").strip()
    if not name:
        raise DomainError(_("A key needs a name."))
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise DomainError(_("The expiry must be in the future."))
    if not 1 <= int(rate_limit_per_minute) <= MAX_RATE_LIMIT:
        raise DomainError(
            _("The rate limit must be between 1 and %(n)s requests a minute.", n=MAX_RATE_LIMIT)
        )
    prefix = secrets.token_hex(6)
    secret = f"pk_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        agency_id=client.agency_id,
        client_id=client.id,
        name=name[:120],
        prefix=prefix,
        key_hash=_hash(secret),
        scopes=parse_scopes(scopes),
        expires_at=expires_at,
        rate_limit_per_minute=int(rate_limit_per_minute),
        seen_ips=[],
        created_by_id=actor.id if actor is not None and actor.id else None,
    )
    db.session.add(key)
    db.session.flush()
    record(
        "api_key.created",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=f"{key.name} (pk_{prefix})",
        scopes=",".join(key.scopes),
    )
    return NewKey(key, secret)


def list_keys() -> list[ApiKey]:
    return list(db.session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())))


def get_key(key_id: int) -> ApiKey:
    key = db.session.scalar(select(ApiKey).where(ApiKey.id == key_id))
    if key is None:
        raise NotFound("api key")
    return key


def revoke_key(*, actor: User | None, client: Client, key: ApiKey) -> None:
    if key.revoked_at is not None:
        return
    key.revoked_at = datetime.now(UTC)
    record(
        "api_key.revoked",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.id,
        target=f"{key.name} (pk_{key.prefix})",
    )


def find_usable(raw: str, agency_id: int) -> ApiKey | None:
    """The live key of this agency that `raw` is, or None (unknown, wrong agency, revoked, expired)."""
    parts = raw.split("_")
    if len(parts) < 3 or parts[0] != "pk" or len(parts[1]) != 12:
        return None
    with all_tenants():  # the key names its client; the agency of the host is checked just below
        key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if key is None or key.agency_id != agency_id:
        return None
    if not hmac.compare_digest(key.key_hash, _hash(raw)):
        return None
    if key.revoked_at is not None:
        return None
    if key.expires_at is not None and key.expires_at <= datetime.now(UTC):
        return None
    return key


def note_use(key: ApiKey, ip: str) -> None:
    """Last use, at most once a minute per key (no write per request); a new IP is audited once."""
    now = datetime.now(UTC)
    seen = list(key.seen_ips or [])
    if ip and ip not in seen:
        seen = (seen + [ip])[-MAX_SEEN_IPS:]
        key.seen_ips = seen
        record(
            "api_key.new_ip",
            actor=None,
            agency_id=key.agency_id,
            client_id=key.client_id,
            target=f"{key.name} (pk_{key.prefix})",
            ip_address=ip,
        )
    elif key.last_used_at is not None and (now - key.last_used_at).total_seconds() < 60:
        return
    key.last_used_at, key.last_used_ip = now, ip[:64]
