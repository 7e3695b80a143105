"""One HTTP exchange with the service: the shared rate limit, timeouts, and bounded retries with backoff.

Retried, up to `max_retries` further attempts (each one takes a token from the account's shared bucket):
- 429, and the older 403 "too_many_requests" (§14): refused before anything ran, so always;
- a connection that could not be opened: nothing was sent, so always;
- 5xx, a read timeout, a connection lost mid-call: only for calls that are safe to repeat (GET, PUT,
  DELETE, and the POSTs marked repeatable, such as a subscribe, which is an upsert). Any other POST
  (create a group or a message, send) raises MailupOutcomeUnknown at once: repeating a send whose
  answer was lost could send twice, so the caller looks at what happened before trying again.
Delays: the answer's Retry-After when it has one (seconds or an HTTP date), else exponential backoff with
"equal jitter" (half of the step fixed, half random), so workers that hit the limit together spread out.
Every request carries a connect and a read timeout.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import requests
from redis import Redis
from urllib3.exceptions import NewConnectionError

from ..ratelimit import TokenBucket
from .config import MailupConfig
from .errors import (
    ErrorInfo,
    MailupTimeout,
    MailupUnavailable,
    error_for,
    is_rate_limit,
    outcome_unknown,
    parse_error,
)

log = logging.getLogger("portal.backends.mailup")

USER_AGENT = "portal-delivery/1"
_BAD_ADDRESS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
)


@dataclass
class CallStats:
    """What this client did: requests sent (every attempt), 429 answers, retries, token requests."""

    calls: int = 0
    throttled: int = 0
    retries: int = 0
    token_calls: int = 0


class Transport:
    def __init__(
        self,
        config: MailupConfig,
        redis: Redis,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ):
        self.config = config
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT  # not the library's default "python-requests/x"
        self.bucket = (
            TokenBucket(redis, config.bucket_key, config.rate_per_s, config.burst)
            if config.rate_per_s > 0
            else None
        )
        self.sleep, self.rng, self.clock = sleep, rng, clock
        self.stats = CallStats()

    def exchange(
        self, method: str, url: str, *, call: str, repeatable: bool, limited: bool = True, **kwargs
    ) -> requests.Response:
        """The final answer (any status but a retried one), or an exception once retries are spent."""
        c = self.config
        for attempt in range(c.max_retries + 1):
            last = attempt == c.max_retries
            if limited and self.bucket is not None:
                self.bucket.take()
            self.stats.calls += 1
            try:
                resp = self.session.request(method, url, timeout=c.timeout, **kwargs)
            except _BAD_ADDRESS as exc:
                raise MailupUnavailable("the delivery service address is not usable", call=call) from exc
            except requests.RequestException as exc:
                sent = _maybe_sent(exc)
                if sent and not repeatable:
                    raise outcome_unknown(call=call, why=_why(exc)) from exc
                if last:
                    raise _transport_error(exc, call) from exc
                log.info("%s: %s, retrying", call, _why(exc))
                self._pause(attempt, None)
                continue
            status = resp.status_code
            if status not in (403, 429) and status < 500:
                return resp
            info = parse_error(status, resp.content)
            wait = retry_after(resp, self.clock)
            if is_rate_limit(status, info):
                self.stats.throttled += 1
                if last or (wait is not None and wait > c.max_retry_after_s):
                    raise error_for(status, info, call=call, retry_after=wait)
            elif status >= 500:
                if not repeatable:
                    raise outcome_unknown(status, info, call=call)
                if last or (wait is not None and wait > c.max_retry_after_s):
                    raise error_for(status, info, call=call, retry_after=wait)
            else:
                return resp  # a 403 that is not about the rate
            log.info("%s: HTTP %s, retrying", call, status)
            self._pause(attempt, wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _pause(self, attempt: int, wait: float | None) -> None:
        c = self.config
        if wait is not None:
            delay = wait + self.rng() * c.backoff_base_s  # never earlier than asked; spread a little
        else:
            half = min(c.backoff_cap_s, c.backoff_base_s * 2**attempt) / 2
            delay = half + self.rng() * half
        self.stats.retries += 1
        self.sleep(delay)


def retry_after(resp: requests.Response, clock: Callable[[], float] = time.time) -> float | None:
    """Retry-After in seconds (a number or an HTTP date); None when absent or unreadable."""
    raw = (resp.headers.get("Retry-After") or "").strip()
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(raw).timestamp() - clock())
    except (TypeError, ValueError, IndexError):
        return None


def _maybe_sent(exc: requests.RequestException) -> bool:
    """False when the connection was never opened (so the request cannot have run)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    seen, todo = set(), [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, NewConnectionError):
            return False
        todo += [getattr(e, "reason", None), e.__cause__, e.__context__]
        todo += [a for a in getattr(e, "args", ()) if isinstance(a, BaseException)]
    return True


def _why(exc: BaseException) -> str:
    if isinstance(exc, requests.exceptions.Timeout):
        return "timeout"
    return "connection failed"


def _transport_error(exc: requests.RequestException, call: str) -> MailupUnavailable:
    info = ErrorInfo(name=type(exc).__name__, description=str(exc)[:300])
    if isinstance(exc, requests.exceptions.Timeout):
        return MailupTimeout("the delivery service did not answer in time", info=info, call=call)
    return MailupUnavailable("cannot reach the delivery service", info=info, call=call)
