"""Typed, frozen settings built once from the environment and validated at start.

Nothing here connects to anything: the app factory and the embedded-services helpers read these values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

EMBEDDED_REDIS_PORT = 6390
EMBEDDED_SMTP_PORT = 8025
EMBEDDED_BOUNCE_PORT = 8026


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    secret_key: str
    database_url: str
    redis_url: str
    embedded_redis: bool  # True when REDIS_URL is unset: a bundled redis-server is used
    base_domain: str  # admin.<base> is the back-office; <agency>.<base> are verified automatically
    encryption_keys: tuple[str, ...]  # Fernet keys, newest first (MultiFernet rotation)
    smtp_host: str
    smtp_port: int
    smtp_user: str
    smtp_password: str
    smtp_tls: str  # "none" | "starttls" | "ssl"
    embedded_smtp: bool  # True when SMTP_HOST is unset: the local capture server receives mail
    mail_from_localpart: str  # transactional mail goes out as <localpart>@<agency canonical domain>
    instance_dir: Path
    capture_dir: Path  # where the local SMTP capture server writes .eml files
    storage_dir: Path  # uploaded import files (a shared volume when workers run on other machines)
    bounce_domain: str  # VERP return paths and the inbound bounce/complaint server's domain
    send_lease_seconds: int  # a claimed delivery not confirmed within this time goes back to pending
    send_jobs_per_campaign: int  # how many workers may work on one campaign at once
    import_lease_seconds: int  # a running import that has not renewed its lease for this long is failed
    send_retry_seconds: int  # first wait after a backend failure (doubles, with jitter, up to the pause)
    secure_cookies: bool
    trusted_proxies: int  # number of proxies in front whose X-Forwarded-* headers are trusted
    preferred_scheme: str  # scheme for links in emails ("https" in production)
    public_port: str  # appended to hosts in emailed links in development (":5000"), empty in production
    testing: bool = False
    login_rate_limit: str = "10/minute"
    reset_rate_limit: str = "5/hour"
    # A session unused this long ends (operators sooner: their session opens every tenant) …
    session_idle_minutes: int = 60
    operator_session_idle_minutes: int = 30
    # … and every session ends this long after sign-in, however busy.
    session_max_hours: int = 12
    max_upload_bytes: int = 100 * 1024 * 1024  # a 1M-row contact CSV is about 65 MB
    # Earlier SECRET_KEYs, newest first: links already delivered in emails (unsubscribe, preferences,
    # view online) and sessions signed with them keep working after a rotation; nothing new uses them.
    old_secret_keys: tuple[str, ...] = ()
    # Development only: the outbound-request guard (portal/netguard.py) admits loopback addresses.
    outbound_allow_localhost: bool = False
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        instance_dir = Path(os.environ.get("PORTAL_INSTANCE_DIR", ROOT / "instance")).resolve()
        redis_url = os.environ.get("REDIS_URL", "")
        smtp_host = os.environ.get("SMTP_HOST", "")
        secure = _bool("PORTAL_SECURE_COOKIES", False)
        keys = tuple(k.strip() for k in os.environ.get("PORTAL_ENCRYPTION_KEYS", "").split(",") if k.strip())
        settings = cls(
            secret_key=os.environ.get("SECRET_KEY", ""),
            database_url=os.environ.get("DATABASE_URL", f"sqlite:///{instance_dir / 'portal.db'}"),
            redis_url=redis_url
            or f"redis://127.0.0.1:{_int('PORTAL_EMBEDDED_REDIS_PORT', EMBEDDED_REDIS_PORT)}/0",
            embedded_redis=not redis_url,
            base_domain=os.environ.get("PORTAL_BASE_DOMAIN", "localhost").strip().lower().rstrip("."),
            encryption_keys=keys,
            smtp_host=smtp_host or "127.0.0.1",
            smtp_port=_int("SMTP_PORT", EMBEDDED_SMTP_PORT if not smtp_host else 587),
            smtp_user=os.environ.get("SMTP_USER", ""),
            smtp_password=os.environ.get("SMTP_PASSWORD", ""),
            smtp_tls=os.environ.get("SMTP_TLS", "none" if not smtp_host else "starttls").lower(),
            embedded_smtp=not smtp_host,
            mail_from_localpart=os.environ.get("PORTAL_MAIL_FROM_LOCALPART", "no-reply"),
            instance_dir=instance_dir,
            capture_dir=Path(os.environ.get("PORTAL_CAPTURE_DIR", instance_dir / "outbox")).resolve(),
            storage_dir=Path(os.environ.get("PORTAL_STORAGE_DIR", instance_dir / "storage")).resolve(),
            send_lease_seconds=_int("PORTAL_SEND_LEASE_SECONDS", 300),
            send_jobs_per_campaign=_int("PORTAL_SEND_JOBS_PER_CAMPAIGN", 4),
            import_lease_seconds=_int("PORTAL_IMPORT_LEASE_SECONDS", 120),
            send_retry_seconds=_int("PORTAL_SEND_RETRY_SECONDS", 30),
            bounce_domain=os.environ.get("PORTAL_BOUNCE_DOMAIN", "").strip().lower(),
            secure_cookies=secure,
            trusted_proxies=_int("PORTAL_TRUSTED_PROXIES", 0),
            preferred_scheme=os.environ.get("PORTAL_URL_SCHEME", "https" if secure else "http"),
            public_port=os.environ.get("PORTAL_PUBLIC_PORT", ""),
            max_upload_bytes=_int("PORTAL_MAX_UPLOAD_BYTES", 100 * 1024 * 1024),
            outbound_allow_localhost=_bool("PORTAL_OUTBOUND_ALLOW_LOCALHOST", False),
            session_idle_minutes=_int("PORTAL_SESSION_IDLE_MINUTES", 60),
            operator_session_idle_minutes=_int("PORTAL_OPERATOR_SESSION_IDLE_MINUTES", 30),
            session_max_hours=_int("PORTAL_SESSION_MAX_HOURS", 12),
            old_secret_keys=tuple(
                k.strip() for k in os.environ.get("PORTAL_OLD_SECRET_KEYS", "").split(",") if k.strip()
            ),
        )
        settings = replace(settings, **overrides)
        if not settings.bounce_domain:  # derived after overrides, so a test's base domain carries over
            settings = replace(settings, bounce_domain=f"bounces.{settings.base_domain}")
        settings.validate()
        return settings

    def validate(self) -> None:
        if not self.secret_key or len(self.secret_key) < 16:
            raise SettingsError("SECRET_KEY must be set to at least 16 random characters")
        if self.smtp_tls not in {"none", "starttls", "ssl"}:
            raise SettingsError(f"SMTP_TLS must be none, starttls or ssl, got {self.smtp_tls!r}")
        if not self.encryption_keys:
            raise SettingsError("PORTAL_ENCRYPTION_KEYS must hold at least one Fernet key (comma-separated)")
        if self.trusted_proxies < 0:
            raise SettingsError("PORTAL_TRUSTED_PROXIES must be 0 or more")
        if self.import_lease_seconds < 1:
            raise SettingsError("PORTAL_IMPORT_LEASE_SECONDS must be 1 or more")
        if not self.base_domain:
            raise SettingsError("PORTAL_BASE_DOMAIN must be set")
        for name, value in (
            ("PORTAL_SESSION_IDLE_MINUTES", self.session_idle_minutes),
            ("PORTAL_OPERATOR_SESSION_IDLE_MINUTES", self.operator_session_idle_minutes),
            ("PORTAL_SESSION_MAX_HOURS", self.session_max_hours),
        ):
            if value < 1:
                raise SettingsError(f"{name} must be 1 or more")

    @property
    def admin_host(self) -> str:
        return f"admin.{self.base_domain}"
