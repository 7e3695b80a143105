"""Real parts for every test: a real database (SQLite file, or PostgreSQL via TEST_DATABASE_URL), a real
Redis (the bundled server, or TEST_REDIS_URL), a real SMTP capture server (aiosmtpd)."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from redis import Redis
from sqlalchemy import text

from portal import create_app
from portal.embedded.redis_server import start_redis_on_free_port, stop_redis
from portal.embedded.smtp_capture import start_capture, stop_capture
from portal.extensions import db
from portal.settings import Settings

from .support import World, build_world

BASE_DOMAIN = "portal.test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def workdir():
    with tempfile.TemporaryDirectory(prefix="portal-tests-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
def redis_url(workdir):
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        # Parallel workers share that server: each takes its own database number (gw0 → n, gw1 → n-1, …).
        worker = _worker()
        if worker.startswith("gw"):
            base, _, db_number = url.rpartition("/")
            url = f"{base}/{max(int(db_number or 0) - int(worker[2:]), 0)}"
        yield url
        return
    proc, url = start_redis_on_free_port(workdir / "redis")
    yield url
    stop_redis(proc)


@pytest.fixture(scope="session")
def smtp_capture(workdir):
    """(directory, port) of a real SMTP server writing every message it receives as .eml files."""
    directory = workdir / "outbox"
    port = _free_port()
    controller = start_capture(directory, port=port)
    yield directory, port
    stop_capture(controller)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _database_url(workdir: Path) -> str:
    """One database per xdist worker so parallel runs never share rows — on PostgreSQL a database of its
    own, not a schema: what watches the whole database (the events feed waits for the oldest transaction
    still running in it) must not see the other worker's transactions."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        from sqlalchemy.engine import make_url

        base = make_url(url)
        return base.set(database=f"{base.database}_{_worker()}").render_as_string(hide_password=False)
    return f"sqlite:///{workdir / f'test-{_worker()}.db'}"


def _reset_pg_database(url: str) -> None:
    """Drop and create this worker's database from the one TEST_DATABASE_URL names."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    engine = create_engine(os.environ["TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


@pytest.fixture(scope="session")
def settings(workdir, redis_url, smtp_capture) -> Settings:
    capture_dir, smtp_port = smtp_capture
    worker = _worker()
    os.environ.setdefault("SECRET_KEY", "test-secret-key-0123456789")
    os.environ.setdefault("PORTAL_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    return Settings.from_env(
        secret_key="test-secret-key-0123456789",
        database_url=_database_url(workdir),
        redis_url=redis_url,
        embedded_redis=False,
        base_domain=BASE_DOMAIN,
        encryption_keys=(Fernet.generate_key().decode(),),
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_tls="none",
        smtp_user="",
        smtp_password="",
        embedded_smtp=True,
        instance_dir=workdir / "instance",
        capture_dir=capture_dir,
        storage_dir=workdir / "storage",
        secure_cookies=False,
        trusted_proxies=0,
        preferred_scheme="https",
        public_port="",
        testing=True,
        extra={"ratelimit_prefix": f"rl-{worker}"},
    )


@pytest.fixture(scope="session")
def app(settings):
    if settings.database_url.startswith("postgresql"):
        _reset_pg_database(settings.database_url)
    app = create_app(settings)
    with app.app_context():
        db.create_all()
    from portal.jobs.runner import set_app

    set_app(app)
    yield app


@pytest.fixture(autouse=True)
def _clean_state(request, settings):
    """Empty every table and the Redis database after each test (rows, rate limits, queues)."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
    Redis.from_url(settings.redis_url).flushdb()


@pytest.fixture
def world(app) -> World:
    """Two agencies (AG1 with clients A1, A2; AG2 with client B1) and one user per role."""
    with app.app_context():
        return build_world()


@pytest.fixture
def outbox(smtp_capture):
    """The capture server's messages, newest first; cleared before each test that uses it."""
    directory, _ = smtp_capture
    for f in directory.glob("*.eml"):
        f.unlink()
    from .support import Outbox

    return Outbox(directory)
