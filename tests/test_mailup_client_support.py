"""Helpers for the MailUp client tests (no tests here): the emulator on a free port, a real Redis, an HTTP
session that records every exchange the client makes (so tests count calls, never time them), a small
scripted HTTP server for answers the emulator does not give (odd error bodies, Retry-After, a server that
never answers), and a clock tests move by hand.

Test modules import the fixtures under their function names (`from .test_mailup_client_support import
emulator_fixture, redis_fixture, key_fixture`) and take `emulator` / `redis` / `key` as arguments."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from redis import Redis

from portal.backends.mailup import MailupClient, MailupConfig
from portal.backends.mailup.emulator import AccountSpec, start_emulator

ACCOUNT = AccountSpec("m1234", "secret-pw", "client-abc", "client-secret-xyz")


@dataclass
class Exchange:
    method: str
    url: str
    headers: dict
    body: bytes
    status: int | None = None  # None: no answer (timeout, refused)
    timeout: object = None  # what the client asked requests for: (connect, read)
    sent_at: float = 0.0  # monotonic; only for counting calls per window

    @property
    def path(self) -> str:
        return urlsplit(self.url).path.lower()

    @property
    def query(self) -> dict:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.url).query).items()}

    @property
    def form(self) -> dict:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def is_token(self) -> bool:
        return self.path.endswith("/authorization/oauth/token")


class RecordingSession(requests.Session):
    """A real requests session that keeps a log of what went over the wire."""

    def __init__(self, log: list[Exchange] | None = None):
        super().__init__()
        self.log = [] if log is None else log
        self.lock = threading.Lock()

    def send(self, request, **kwargs):
        body = request.body or b""
        entry = Exchange(
            request.method,
            request.url,
            dict(request.headers),
            body.encode() if isinstance(body, str) else body,
            sent_at=time.monotonic(),
            timeout=kwargs.get("timeout"),
        )
        with self.lock:
            self.log.append(entry)
        response = super().send(request, **kwargs)
        entry.status = response.status_code
        return response

    def api(self) -> list[Exchange]:
        return [e for e in self.log if not e.is_token]

    def tokens(self) -> list[Exchange]:
        return [e for e in self.log if e.is_token]

    def statuses(self) -> list[int | None]:
        return [e.status for e in self.log]


class FakeClock:
    def __init__(self):
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingSleep:
    """Sleeps for real (so a rate-limited server refills) but at most `cap` seconds, and remembers."""

    def __init__(self, cap: float = 30.0):
        self.cap, self.calls = cap, []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        time.sleep(min(seconds, self.cap))


def make_client(base_url: str, redis: Redis, *, key: str, session=None, spec=ACCOUNT, **overrides):
    values = {
        "username": spec.username,
        "password": spec.password,
        "client_id": spec.client_id,
        "client_secret": spec.client_secret,
        "connection_key": key,
        "rate_per_s": 50.0,
        "backoff_base_s": 0.05,
        "account_key": key,
    }
    values.update(overrides)
    extra = {k: values.pop(k) for k in ("clock", "sleep", "rng") if k in values}
    session = session if session is not None else RecordingSession()
    client = MailupClient(MailupConfig.for_base(base_url, **values), redis, session=session, **extra)
    return client, session


@pytest.fixture(name="redis")
def redis_fixture(redis_url):
    conn = Redis.from_url(redis_url)
    yield conn
    for pattern in ("portal:mailup:*", "portal:bucket:mailup:*"):
        keys = list(conn.scan_iter(pattern))
        if keys:
            conn.delete(*keys)


@pytest.fixture(name="key")
def key_fixture() -> str:
    """A connection key of this test alone (its token cache and rate-limit bucket)."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(name="emulator")
def emulator_fixture():
    url, handle = start_emulator(accounts=[ACCOUNT])
    yield url, handle
    handle.stop()


# --- a scripted server --------------------------------------------------------------------------------


@dataclass
class Scripted:
    status: int = 200
    body: str = "{}"
    headers: dict = field(default_factory=dict)
    hang: bool = False  # accept the request and never answer (until the server stops)


TOKEN_BODY = json.dumps({"access_token": "scripted-token", "expires_in": 3600, "refresh_token": "r1"})


class ScriptedServer:
    """Answers the token endpoint with a token, and every other call with the next scripted answer
    (then 200 `{}`). Counts what it received."""

    def __init__(self):
        self.script: list[Scripted] = []
        self.received: list[str] = []
        self.stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if urlsplit(self.path).path.lower().endswith("/authorization/oauth/token"):
                    return self._write(Scripted(200, TOKEN_BODY))
                server.received.append(f"{self.command} {self.path}")
                step = server.script.pop(0) if server.script else Scripted()
                if step.hang:
                    server.stopping.wait(30)
                    return
                self._write(step)

            def _write(self, step: Scripted):
                data = step.body.encode()
                self.send_response(step.status)
                for name, value in step.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.daemon = True
        self.thread.start()

    def stop(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(name="scripted")
def scripted_fixture():
    server = ScriptedServer()
    yield server
    server.stop()
