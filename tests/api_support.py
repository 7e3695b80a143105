"""Helpers for the REST API tests: keys made through the key service, a JSON client on a host."""

from __future__ import annotations

import json as jsonlib

from portal.api.keys import create_key
from portal.extensions import db
from portal.models import Client
from portal.tenancy import bind_tenant

from .support import World


def make_key(app, world: World, client_key: str = "A1", scopes=("read", "write", "send"), **kw) -> str:
    agency_key = "AG1" if client_key in ("A1", "A2") else "AG2"
    with app.app_context(), bind_tenant(world.agency_ids[agency_key], world.client_ids[client_key]):
        client = db.session.get(Client, world.client_ids[client_key])
        new = create_key(actor=None, client=client, name=f"{client_key} key", scopes=list(scopes), **kw)
        db.session.commit()
        return new.secret


class Api:
    """A JSON caller for one host and one key (no cookies: a fresh test client per call)."""

    def __init__(self, app, host: str, key: str | None):
        self.app, self.host, self.key = app, host, key

    def call(self, method: str, path: str, json=None, headers=None, **kw):
        hdrs = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        hdrs.update(headers or {})
        data = None
        if json is not None:
            data = jsonlib.dumps(json)
            hdrs.setdefault("Content-Type", "application/json")
        return self.app.test_client().open(
            f"http://{self.host}/api/v1{path}", method=method, data=data, headers=hdrs, **kw
        )

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.call("POST", path, json=json if json is not None else {}, **kw)

    def put(self, path, json=None, **kw):
        return self.call("PUT", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


def api_for(app, world: World, client_key: str = "A1", **kw) -> Api:
    host = world.hosts["AG1" if client_key in ("A1", "A2") else "AG2"]
    return Api(app, host, make_key(app, world, client_key, **kw))
