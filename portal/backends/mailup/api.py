"""The core every REST call goes through: the bearer token, one renewal and retry on a 401, the answer
decoded (a JSON object or array, a bare JSON integer, or None for an empty 200 body, §4.3), paged
collections walked with `filterby` / `orderby` (§4.1, §4.2).

The Redis connection is passed in (never created here): it holds the shared token and rate limit.
`clock`, `sleep` and `rng` can be given so tests move time and see the pauses instead of waiting.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator

import requests
from redis import Redis

from .auth import Authenticator, Token
from .config import MailupConfig
from .errors import ErrorInfo, MailupBadAnswer, error_for, parse_error
from .paging import DEFAULT_PAGE_SIZE, Page, quoted, walk
from .transport import CallStats, Transport

CONSOLE, STATISTICS = "console", "statistics"
_NO_BODY = object()


class MailupApi:
    def __init__(
        self,
        config: MailupConfig,
        redis: Redis,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ):
        self.config, self.clock, self.sleep = config, clock, sleep
        self.transport = Transport(config, redis, session=session, sleep=sleep, rng=rng, clock=clock)
        self.auth = Authenticator(config, redis, self.transport, clock)

    @property
    def stats(self) -> CallStats:
        return self.transport.stats

    def call(
        self,
        method: str,
        service: str,
        path: str,
        *,
        params: dict | None = None,
        body=_NO_BODY,
        repeatable: bool | None = None,
    ):
        """One call; `repeatable` defaults to True for every method but POST (see transport.py)."""
        url = self._base(service) + path
        repeatable = method != "POST" if repeatable is None else repeatable
        name = f"{method} {path}"
        extra: dict = {"params": params}
        if body is not _NO_BODY:
            # Encoded here, once, before the rate limiter's wait and not inside the request after it: a
            # 5,000-member import is half a megabyte of JSON, and encoding it after the token was taken
            # pushed every later call back by that much (a retry reuses the same bytes).
            extra["data"] = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
        token = self.auth.token()
        resp = self._send_with(method, url, token, name, repeatable, extra)
        if resp.status_code == 401:  # expired or revoked early: renew once and retry once (§13)
            resp = self._send_with(method, url, self.auth.after_rejection(token), name, repeatable, extra)
        if not 200 <= resp.status_code < 300:
            raise error_for(resp.status_code, parse_error(resp.status_code, resp.content), call=name)
        return decode(resp, name)

    def _base(self, service: str) -> str:
        if service == CONSOLE:
            return self.config.console_url
        if service == STATISTICS:
            return self.config.statistics_url
        raise ValueError(f"unknown service {service!r}")

    def _send_with(self, method, url, token: Token, name, repeatable, extra) -> requests.Response:
        headers = {"Authorization": f"Bearer {token.access_token}", "Accept": "application/json"}
        if "data" in extra:
            headers["Content-Type"] = "application/json"
        return self.transport.exchange(
            method, url, call=name, repeatable=repeatable, headers=headers, **extra
        )

    def pages(
        self,
        service: str,
        path: str,
        *,
        params: dict | None = None,
        filterby: str | None = None,
        orderby: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        start: int = 0,
    ) -> Iterator[Page]:
        """The pages of a collection from page `start` (0-based)."""
        query = dict(params or {})
        if filterby:
            query["filterby"] = quoted(filterby)
        if orderby:
            query["orderby"] = quoted(orderby)

        def fetch(number: int) -> Page:
            data = self.call(
                "GET", service, path, params=query | {"pageSize": page_size, "pageNumber": number}
            )
            try:
                return Page.from_api(number, page_size, data)
            except ValueError:
                raise bad_answer(f"GET {path}", data) from None

        return walk(fetch, start)

    def items(self, service: str, path: str, **kwargs) -> Iterator[dict]:
        for page in self.pages(service, path, **kwargs):
            yield from page.items


def decode(resp: requests.Response, name: str):
    raw = resp.content.strip()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_answer(name, raw[:300].decode("utf-8", "replace"), resp.status_code) from None


def bare_int(value, name: str) -> int:
    """A bare integer answer (a recipient or import id, a Count); a numeric string is accepted too."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise bad_answer(name, value)


def bad_answer(name: str, value, status: int = 200) -> MailupBadAnswer:
    return MailupBadAnswer(
        "the delivery service gave an answer that could not be read",
        status=status,
        info=ErrorInfo(description=str(value)[:300]),
        call=name,
    )
