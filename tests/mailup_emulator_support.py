"""A tiny urllib client for the MailUp emulator tests: real HTTP, no client library of ours involved."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pytest

from portal.backends.mailup.emulator import AccountSpec, start_emulator

ACCOUNT = AccountSpec("m1234", "secret-pw", "client-abc", "client-secret-xyz")
OTHER = AccountSpec("m5678", "other-pw", "client-def", "other-secret")
CONSOLE = "/API/v1.1/Rest/ConsoleService.svc/Console"
STATS = "/API/v1.1/Rest/MailStatisticsService.svc"
TOKEN = "/Authorization/OAuth/Token"


@dataclass
class Reply:
    status: int
    text: str
    headers: dict

    def json(self):
        return json.loads(self.text)


def request(url: str, method: str = "GET", data=None, headers=None, json_body=None) -> Reply:
    headers = dict(headers or {})
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(data, dict):
        data = urllib.parse.urlencode(data).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return Reply(resp.status, resp.read().decode(), dict(resp.headers))
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.read().decode(), dict(exc.headers))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Api:
    """One logged-in account: `api.get("/List/1/Groups")` goes to the console, `api.stats(...)` to the
    statistics service."""

    def __init__(self, base: str, spec: AccountSpec = ACCOUNT, *, refresh_on_401: bool = False):
        self.base = base
        self.spec = spec
        self.refresh_on_401 = refresh_on_401
        self.login()

    def login(self) -> dict:
        reply = request(
            self.base + TOKEN,
            "POST",
            {
                "grant_type": "password",
                "username": self.spec.username,
                "password": self.spec.password,
                "client_id": self.spec.client_id,
                "client_secret": self.spec.client_secret,
            },
        )
        assert reply.status == 200, reply.text
        self.tokens = reply.json()
        return self.tokens

    def call(self, method: str, path: str, body=None, *, base: str = CONSOLE, **query) -> Reply:
        url = self.base + base + path
        if query:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
        headers = {"Authorization": "Bearer " + self.tokens["access_token"], "Accept": "application/json"}
        reply = request(url, method, headers=headers, json_body=body)
        if reply.status == 401 and self.refresh_on_401:  # what every MailUp client does: refresh once, retry
            self.refresh()
            headers["Authorization"] = "Bearer " + self.tokens["access_token"]
            reply = request(url, method, headers=headers, json_body=body)
        return reply

    def refresh(self) -> dict:
        reply = request(
            self.base + TOKEN,
            "POST",
            {
                "grant_type": "refresh_token",
                "client_id": self.spec.client_id,
                "client_secret": self.spec.client_secret,
                "refresh_token": self.tokens["refresh_token"],
            },
        )
        assert reply.status == 200, reply.text
        self.tokens = reply.json()
        return self.tokens

    def get(self, path, **query):
        return self.call("GET", path, **query)

    def post(self, path, body=None, **query):
        return self.call("POST", path, body, **query)

    def put(self, path, body=None, **query):
        return self.call("PUT", path, body, **query)

    def delete(self, path, **query):
        return self.call("DELETE", path, **query)

    def stats(self, path, **query):
        return self.call("GET", path, base=STATS, **query)

    def ok(self, method: str, path: str, body=None, **query):
        reply = self.call(method, path, body, **query)
        assert reply.status == 200, (method, path, reply.status, reply.text)
        return reply.json() if reply.text else None

    def subscribe(self, email: str, list_id: int = 1, **fields) -> int:
        body = {
            "Email": email,
            "Name": email.split("@")[0],
            "Fields": [{"Id": int(k[1:]), "Value": v} for k, v in fields.items()],
        }
        return self.ok("POST", f"/List/{list_id}/Recipient", body)

    def all_items(self, path: str, *, base: str = CONSOLE, **query) -> list:
        """Every item of a paged collection, stopping at the first empty page."""
        items, number = [], 0
        while True:
            page = self.call("GET", path, base=base, pageNumber=number, **query).json()
            if not page["Items"]:
                return items
            items += page["Items"]
            number += 1


# Test modules import these under their function names (`from .mailup_emulator_support import
# emulator_fixture, api_fixture`) and take `emulator` / `api` as arguments.
@pytest.fixture(name="emulator")
def emulator_fixture():
    """(base url, handle) of an emulator with two accounts, serving on a free port for one test."""
    url, handle = start_emulator(accounts=[ACCOUNT, OTHER])
    yield url, handle
    handle.stop()


@pytest.fixture(name="api")
def api_fixture(emulator) -> Api:
    """The first account, logged in; it refreshes its token on a 401 (the clock moves in some tests)."""
    return Api(emulator[0], refresh_on_401=True)
