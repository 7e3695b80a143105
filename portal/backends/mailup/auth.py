"""OAuth2 for one connection (§2): the password grant, the rotating refresh, the token shared in Redis.

The token lives in Redis under the connection key, so every worker and process of a connection uses the
same one: a second client makes no token call. It is renewed before `expires_in` runs out (a fifth of
its lifetime early, at most 3 minutes: [FAZ] refreshes under 180 s) and after a 401 on a call. Renewal
tries the refresh grant first; the refresh token rotates on every refresh (§2.2), so the new one is
stored with the new access token; when the refresh is refused (spent, expired, revoked) a password grant
follows. A Redis lock lets one worker renew while the others wait and then find the new token.

The cache entry records the account and token endpoint it belongs to: a connection whose credentials now
name another account does not reuse the old account's token.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from redis import Redis
from redis.exceptions import LockError

from .config import MailupConfig
from .errors import ErrorInfo, MailupAuthError, MailupBadAnswer, MailupUnavailable, error_for, parse_error
from .transport import Transport

log = logging.getLogger("portal.backends.mailup")

DEFAULT_LIFETIME_S = 900  # when expires_in is missing: the shortest lifetime seen (§2.5)
MAX_EARLY_S = 180


@dataclass(frozen=True)
class Token:
    access_token: str
    refresh_token: str
    expires_at: float
    renew_at: float


class TokenCache:
    """One connection's token in Redis."""

    # The refresh token's lifetime is not documented (§2.5): an old one only costs a password grant.
    TTL_S = 30 * 86400

    def __init__(self, redis: Redis, connection_key: str, owner: str):
        self.redis, self.owner = redis, owner
        self.key = f"portal:mailup:token:{connection_key}"

    def load(self) -> Token | None:
        raw = self.redis.get(self.key)
        try:
            data = json.loads(raw) if raw else None
            if not data or data.pop("owner", None) != self.owner:
                return None
            return Token(**data)
        except (ValueError, TypeError):
            return None  # an entry of another shape: renew and overwrite it

    def save(self, token: Token) -> None:
        self.redis.set(self.key, json.dumps({**asdict(token), "owner": self.owner}), ex=self.TTL_S)

    @contextmanager
    def locked(self, wait_s: float) -> Iterator[None]:
        """Held while renewing. Waiting longer than `wait_s` goes ahead unlocked: a second renewal costs
        one token call, a stuck worker must not stop the others."""
        lock = self.redis.lock(self.key + ":lock", timeout=max(60.0, 2 * wait_s), blocking_timeout=wait_s)
        got = lock.acquire()
        try:
            yield
        finally:
            if got:
                try:
                    lock.release()
                except LockError:
                    pass  # it expired while we renewed; nobody else's lock is touched


class Authenticator:
    def __init__(self, config: MailupConfig, redis: Redis, transport: Transport, clock: Callable[[], float]):
        self.config, self.transport, self.clock = config, transport, clock
        owner = f"{config.token_url}|{config.username.lower()}|{config.client_id}"
        self.cache = TokenCache(redis, config.connection_key, owner)

    def token(self) -> Token:
        """A token to call with: the shared one while it is fresh, else a renewed one."""
        cached = self.cache.load()
        if cached is not None and self.clock() < cached.renew_at:
            return cached
        try:
            return self._renew(cached, fresh=lambda t: self.clock() < t.renew_at)
        except MailupUnavailable as exc:
            if cached is None or self.clock() >= cached.expires_at:
                raise
            # Renewing early failed (the token endpoint is down): the token still works until it expires.
            log.warning("token renewal failed, using the current token until it expires: %s", exc.log_text())
            return cached

    def after_rejection(self, rejected: Token) -> Token:
        """A call was answered 401 with `rejected`: the token another worker got meanwhile, or a new one."""
        return self._renew(rejected, fresh=lambda t: t.access_token != rejected.access_token)

    def login(self) -> Token:
        """A password grant now, whatever is cached ("test credentials" proves the credentials work)."""
        with self.cache.locked(self._wait_s()):
            token = self._password_grant()
            self.cache.save(token)
            return token

    def _renew(self, stale: Token | None, *, fresh: Callable[[Token], bool]) -> Token:
        with self.cache.locked(self._wait_s()):
            current = self.cache.load()
            if current is not None and fresh(current):
                return current  # renewed by another worker while we waited for the lock
            base = current or stale
            token = None
            if base is not None and base.refresh_token:
                try:
                    token = self._refresh_grant(base.refresh_token)
                except MailupAuthError as exc:
                    log.info("refresh refused, falling back to the password grant: %s", exc.log_text())
            if token is None:
                token = self._password_grant()
            self.cache.save(token)
            return token

    def _wait_s(self) -> float:
        c = self.config
        return c.connect_timeout_s + c.read_timeout_s + 5

    def _password_grant(self) -> Token:
        c = self.config
        form = {"grant_type": "password", "username": c.username, "password": c.password}
        auth = None
        if c.client_credentials in ("body", "both"):
            form |= {"client_id": c.client_id, "client_secret": c.client_secret}
        if c.client_credentials in ("basic", "both"):
            auth = (c.client_id, c.client_secret)
        return self._grant(form, auth, "token (password grant)")

    def _refresh_grant(self, refresh_token: str) -> Token:
        c = self.config
        form = {
            "grant_type": "refresh_token",
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "refresh_token": refresh_token,
        }
        return self._grant(form, None, "token (refresh grant)", keep_refresh=refresh_token)

    def _grant(self, form: dict, auth, call: str, keep_refresh: str = "") -> Token:
        self.transport.stats.token_calls += 1
        resp = self.transport.exchange(
            "POST",
            self.config.token_url,
            call=call,
            repeatable=True,  # a grant repeated after a lost answer only costs a spent refresh token
            limited=False,  # the authorization service is not one of the rate-limited API resources
            data=form,
            auth=auth,
            headers={"Accept": "application/json"},
        )
        if resp.status_code != 200:
            info = parse_error(resp.status_code, resp.content)
            if resp.status_code in (400, 401):
                raise MailupAuthError(
                    "the delivery service refused the connection's credentials",
                    status=resp.status_code,
                    info=info,
                    call=call,
                )
            raise error_for(resp.status_code, info, call=call)
        try:
            data = resp.json()
            access = str(data["access_token"])
        except (ValueError, KeyError, TypeError):
            raise MailupBadAnswer(
                "the delivery service gave an answer that could not be read",
                status=200,
                info=ErrorInfo(description=resp.text[:300]),
                call=call,
            ) from None
        try:
            lifetime = max(0.0, float(data.get("expires_in")))
        except (TypeError, ValueError):
            lifetime = DEFAULT_LIFETIME_S
        now = self.clock()
        return Token(
            access_token=access,
            refresh_token=str(data.get("refresh_token") or keep_refresh),
            expires_at=now + lifetime,
            renew_at=now + lifetime - min(MAX_EARLY_S, lifetime / 5),
        )
