"""The emulator's HTTP face (plain WSGI on werkzeug): the send API and the /_emulator/ admin endpoints."""

from __future__ import annotations

import json
from html import escape

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .state import GatewayState

URLS = Map(
    [
        Rule("/send", endpoint="send", methods=["POST"]),
        Rule("/_emulator/", endpoint="admin", methods=["GET"]),
        Rule("/_emulator/messages", endpoint="messages", methods=["GET"]),
        Rule("/_emulator/reports", endpoint="reports", methods=["POST"]),
        Rule("/_emulator/inbound", endpoint="inbound", methods=["POST"]),
        Rule("/_emulator/fail", endpoint="fail", methods=["POST"]),
        Rule("/_emulator/reset", endpoint="reset", methods=["POST"]),
    ]
)


def _json(data, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")


def _body(request: Request) -> dict:
    if request.is_json:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}
    return request.form.to_dict()


def create_app(state: GatewayState):
    def send(request: Request) -> Response:
        if state.api_key and request.headers.get("Authorization", "") != f"Bearer {state.api_key}":
            return _json({"error": "unauthorized"}, 401)
        status, answer = state.accept(_body(request))
        return _json(answer, status)

    def admin(request: Request) -> Response:
        rows = "".join(
            f"<tr><td>{escape(m['id'])}</td><td>{escape(m['to'])}</td><td>{escape(m['sender'])}</td>"
            f"<td>{escape(m['text'])}</td><td>{escape(m['status'])}</td><td>{escape(m['reason'])}</td></tr>"
            for m in reversed(state.snapshot()["messages"])
        )
        html = (
            "<!doctype html><title>SMS gateway emulator</title><h1>SMS gateway emulator</h1>"
            "<form method=post action=/_emulator/reports><button>Send pending delivery reports</button></form>"
            "<form method=post action=/_emulator/inbound><input name=from placeholder='+393471110001'>"
            "<input name=text placeholder=STOP><button>Post an inbound reply</button></form>"
            "<table border=1><tr><th>id</th><th>to</th><th>from</th><th>text</th><th>status</th>"
            f"<th>reason</th></tr>{rows}</table>"
        )
        return Response(html, mimetype="text/html")

    def messages(request: Request) -> Response:
        return _json(state.snapshot())

    def reports(request: Request) -> Response:
        return _json({"posted": state.flush_reports()})

    def inbound(request: Request) -> Response:
        body = _body(request)
        ok, reply = state.inbound(
            str(body.get("from", "")), str(body.get("to", "")), str(body.get("text", "")), body.get("url", "")
        )
        return _json({"posted": ok, "reply": reply}, 200 if ok else 502)

    def fail(request: Request) -> Response:
        body = _body(request)
        with state.lock:
            state.fail_status, state.fail_count = int(body.get("status", 503)), int(body.get("count", 1))
        return _json({"ok": True})

    def reset(request: Request) -> Response:
        state.reset()
        return _json({"ok": True})

    views = {f.__name__: f for f in (send, admin, messages, reports, inbound, fail, reset)}

    def application(environ, start_response):
        request = Request(environ)
        try:
            endpoint, _args = URLS.bind_to_environ(environ).match()
            response = views[endpoint](request)
        except NotFound:
            response = _json({"error": "not found"}, 404)
        except HTTPException as exc:
            response = _json({"error": exc.description}, exc.code or 500)
        return response(environ, start_response)

    return application
