"""Test helpers: the two-agency world of the checklist fixtures, host-aware clients, CSRF tokens, outbox."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path

import pyotp
from redis import Redis
from rq import SimpleWorker
from sqlalchemy import select, update

from portal.crypto import encrypt_json
from portal.extensions import db
from portal.jobs import QUEUES
from portal.models import Agency, Client, TotpCredential, User
from portal.models.user import (
    ROLE_AGENCY_OWNER,
    ROLE_AGENCY_STAFF,
    ROLE_CLIENT_ADMIN,
    ROLE_CLIENT_EDITOR,
    ROLE_CLIENT_VIEWER,
)
from portal.passwords import hash_password
from portal.services import agencies, clients, users
from portal.tenancy import all_tenants, bind_tenant

PASSWORD = "correct horse battery"
BASE = "portal.test"
ADMIN_HOST = f"admin.{BASE}"
# Platform operators must sign in with a second factor: the world's operator is enrolled with this secret.
ADMIN_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
# email -> TOTP secret of every test user enrolled with a known secret (the login helpers read it).
TOTP_SECRETS: dict[str, str] = {}


@lru_cache(maxsize=1)
def password_hash() -> str:
    return hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per test session


@dataclass
class World:
    """Ids and hosts only (objects would be detached from the session that made them)."""

    hosts: dict[str, str] = field(default_factory=dict)  # AG1 -> ag1.portal.test
    agency_ids: dict[str, int] = field(default_factory=dict)
    client_ids: dict[str, int] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)  # key -> email; e.g. "AG1.owner", "A1.admin"
    user_ids: dict[str, int] = field(default_factory=dict)
    user_host: dict[str, str] = field(default_factory=dict)

    def host_of(self, user_key: str) -> str:
        return self.user_host[user_key]


def build_world() -> World:
    w = World()
    TOTP_SECRETS.clear()  # a new world: nobody but its operator has a second factor yet
    with all_tenants():
        admin = User(agency_id=None, email="root@portal.test", name="Root", password_hash=password_hash())
        db.session.add(admin)
        db.session.flush()
        enrol_totp(admin, ADMIN_TOTP_SECRET)
        w.users["admin"], w.user_ids["admin"], w.user_host["admin"] = admin.email, admin.id, ADMIN_HOST
        made = {}
        for key, slug in (("AG1", "ag1"), ("AG2", "ag2")):
            agency = agencies.create_agency(actor=admin, name=f"Agency {key}", slug=slug)
            db.session.flush()
            made[key] = agency
            w.agency_ids[key] = agency.id
            w.hosts[key] = f"{slug}.{BASE}"
    for key, client_keys in (("AG1", ("A1", "A2")), ("AG2", ("B1",))):
        agency = made[key]
        with bind_tenant(agency.id):
            for role_key, role in (("owner", ROLE_AGENCY_OWNER), ("staff", ROLE_AGENCY_STAFF)):
                u = users.create_user(
                    actor=admin,
                    agency=agency,
                    email=f"{role_key}@{key.lower()}.test",
                    role=role,
                    name=f"{key} {role_key}",
                    password_hash=password_hash(),
                )
                _remember(w, f"{key}.{role_key}", u, w.hosts[key])
            for ck in client_keys:
                c = clients.create_client(
                    actor=admin, agency=agency, name=f"Client {ck}", email_quota_month=1000, sms_credits=10
                )
                w.client_ids[ck] = c.id
                for role_key, role in (
                    ("admin", ROLE_CLIENT_ADMIN),
                    ("editor", ROLE_CLIENT_EDITOR),
                    ("viewer", ROLE_CLIENT_VIEWER),
                ):
                    u = users.create_user(
                        actor=admin,
                        agency=agency,
                        client=c,
                        role=role,
                        email=f"{role_key}@{ck.lower()}.test",
                        name=f"{ck} {role_key}",
                        password_hash=password_hash(),
                    )
                    _remember(w, f"{ck}.{role_key}", u, w.hosts[key])
            db.session.flush()
    db.session.commit()
    return w


def enrol_totp(user: User, secret: str) -> None:
    """Give a user a confirmed TOTP credential with a known secret (as enrolment would store it)."""
    user.totp = TotpCredential(agency_id=user.agency_id, secret_encrypted=encrypt_json({"totp": secret}))
    TOTP_SECRETS[user.email] = secret
    db.session.flush()


def fresh_totp_code(app, email: str) -> str:
    """A code that the sign-in step accepts now for a user enrolled through `enrol_totp`.

    A test may sign the same user in several times within one 30-second step; the replay guard rightly
    refuses a code of a step already used, so the helper stands in for "the next step has come" by
    forgetting the last accepted step first. Tests of the replay guard itself never use this."""
    with app.app_context(), all_tenants():
        user_id = db.session.scalar(select(User.id).where(User.email == email))
        db.session.execute(
            update(TotpCredential).where(TotpCredential.user_id == user_id).values(last_step=None)
        )
        db.session.commit()
    return pyotp.TOTP(TOTP_SECRETS[email]).now()


def _remember(w: World, key: str, user: User, host: str) -> None:
    w.users[key], w.user_ids[key], w.user_host[key] = user.email, user.id, host


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no csrf_token in page"
    return m.group(1)


class HostClient:
    """A Flask test client pinned to one host (cookies are per host, like a browser)."""

    def __init__(self, app, host: str):
        self.app, self.host = app, host
        self.http = app.test_client()

    def _url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    def get(self, path: str, **kw):
        return self.http.get(self._url(path), **kw)

    def post(self, path: str, data=None, csrf_path: str | None = None, **kw):
        """POST with a CSRF token taken from `csrf_path` (default: the same path, GET first)."""
        data = dict(data or {})
        if "csrf_token" not in data:
            data["csrf_token"] = self.csrf(csrf_path or path)
        return self.http.post(self._url(path), data=data, **kw)

    def csrf(self, path: str) -> str:
        page = self.get(path)
        text = page.get_data(as_text=True)
        m = CSRF_RE.search(text)
        if m is None:  # pages without forms: any page with the sign-out form carries a token
            m = CSRF_RE.search(self.get("/account" if self.host != "x" else path).get_data(as_text=True))
        assert m, f"no csrf_token reachable from {path}"
        return m.group(1)

    def login(self, email: str, password: str = PASSWORD):
        """Password, then (for a user enrolled with a known secret) a fresh code at the second step."""
        resp = self.post("/login", {"email": email, "password": password})
        assert resp.status_code == 302, f"login failed for {email}: {resp.status_code}"
        if resp.location.endswith("/login/code"):
            resp = self.post("/login/code", {"code": fresh_totp_code(self.app, email)})
            assert resp.status_code == 302, f"second factor failed for {email}: {resp.status_code}"
        return resp


def client_for(app, world: World, user_key: str) -> HostClient:
    c = HostClient(app, world.host_of(user_key))
    c.login(world.users[user_key])
    return c


def run_jobs(app, queues=QUEUES) -> None:
    """Drain the queues with a real RQ worker in this process (burst mode)."""
    conn = Redis.from_url(app.config["PORTAL_SETTINGS"].redis_url)
    SimpleWorker(list(queues), connection=conn).work(burst=True)


class Outbox:
    def __init__(self, directory: Path):
        self.directory = directory

    def messages(self) -> list[EmailMessage]:
        files = sorted(self.directory.glob("*.eml"))
        return [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages() if address in str(m["To"])]


def agency_row(agency_id: int) -> Agency:
    with all_tenants():
        return db.session.get(Agency, agency_id)


def client_row(agency_id: int, client_id: int) -> Client:
    with bind_tenant(agency_id):
        return db.session.scalar(select(Client).where(Client.id == client_id))


def store_result_file(name: str, data: bytes) -> str:
    """Put a finished job's result file where jobs/results.py keeps them (inside an app context); returns
    the name to store in JobRun.result_path."""
    from portal.jobs.results import results_dir

    root = results_dir()
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(data)
    return name


def read_result_file(run) -> str:
    """The text of a finished run's result file (inside an app context)."""
    from portal.jobs.results import result_path

    path = result_path(run)
    assert path is not None, f"run {run.id} has no result file"
    return path.read_text(encoding="utf-8-sig")
