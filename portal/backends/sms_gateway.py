"""A generic HTTP SMS gateway behind the per-message seam: one POST per message.

Everything gateway-specific is configuration (`GatewayConfig`): the endpoint, how to authenticate (a
bearer token, HTTP basic, or a named header), the JSON request template, where the gateway's message id
sits in its answer, and the URL the gateway posts delivery reports to. The template is a JSON object whose
string values may contain the placeholders {to}, {sender}, {text}, {reference}, {callback} and
{unicode}; they are substituted in the parsed object, so a text with quotes or newlines can never break
the JSON. Answers map onto the neutral outcomes (backends/base.py):
- 2xx: accepted, the id is read from `id_field` (dotted path);
- 400/404/422: this message or number refused for good (RecipientRefused, not a bounce);
- 401/403: credentials refused; 429, 5xx, timeouts, no connection: the gateway is unavailable.
The reference (our delivery id) travels with every message so a gateway can ignore a repeated hand-over.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from .base import BackendUnavailable, OutgoingMessage, RecipientRefused, Withdrawn

DEFAULT_TEMPLATE = {
    "to": "{to}",
    "from": "{sender}",
    "text": "{text}",
    "reference": "{reference}",
    "report_url": "{callback}",
    "unicode": "{unicode}",
}
TIMEOUT = (5, 15)  # connect, read (seconds)
AUTH_KINDS = ("bearer", "basic", "header", "none")


@dataclass(frozen=True)
class GatewayConfig:
    endpoint: str
    auth: str = "bearer"  # bearer | basic | header | none
    api_key: str = ""  # the token, "user:password" for basic, the header's value for header
    auth_header: str = "X-Api-Key"
    template: dict = field(default_factory=lambda: dict(DEFAULT_TEMPLATE))
    id_field: str = "id"
    callback_url: str = ""  # where delivery reports go; empty: the gateway sends none
    reports: bool = True  # False: the gateway never reports deliveries (credits are consumed when sent)


def _fill(value, values: dict[str, str]):
    if isinstance(value, str):
        if value in {f"{{{k}}}" for k in values}:
            return values[value[1:-1]]
        for k, v in values.items():
            value = value.replace(f"{{{k}}}", str(v))
        return value
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


def build_request(config: GatewayConfig, message: OutgoingMessage, *, unicode: bool) -> dict:
    """The JSON body for one message (exposed for the connection test and the tests)."""
    text = message.payload.decode() if isinstance(message.payload, bytes) else message.payload
    values = {
        "to": message.recipient,
        "sender": message.sender,
        "text": text,
        "reference": message.reference,
        "callback": config.callback_url,
        "unicode": unicode,
    }
    return _fill(config.template or DEFAULT_TEMPLATE, values)


def _dig(data, path: str) -> str:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return ""
        data = data[part]
    return "" if data is None else str(data)


def _reason(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200].strip()
    if isinstance(body, dict):
        for key in ("error", "message", "reason", "detail"):
            if body.get(key):
                return str(body[key])[:200]
    return json.dumps(body)[:200]


class SmsGateway:
    """One pooled HTTP session per worker thread (the delivery loop caches the backend per thread)."""

    lanes = 1  # `ready` is asked before the request: a second lane would only wait

    def __init__(self, config: GatewayConfig):
        self.config = config
        self.http = requests.Session()
        self.http.headers["User-Agent"] = "portal-delivery/1"
        if config.auth == "bearer" and config.api_key:
            self.http.headers["Authorization"] = f"Bearer {config.api_key}"
        elif config.auth == "basic" and config.api_key:
            user, _, password = config.api_key.partition(":")
            self.http.auth = (user, password)
        elif config.auth == "header" and config.api_key:
            self.http.headers[config.auth_header] = config.api_key

    def supports_utf8_addresses(self) -> bool:
        return False

    def send(self, message: OutgoingMessage, ready: Callable[[], bool] | None = None) -> str:
        body = build_request(self.config, message, unicode=message.utf8)
        if ready is not None and not ready():  # the request is the point of no return
            raise Withdrawn("the message was withdrawn before delivery")
        try:
            resp = self.http.post(self.config.endpoint, json=body, timeout=TIMEOUT)
        except requests.exceptions.Timeout as exc:
            raise BackendUnavailable("the SMS gateway did not answer in time") from exc
        except requests.exceptions.RequestException as exc:
            raise BackendUnavailable("cannot reach the SMS gateway (connection refused or lost)") from exc
        if resp.status_code in (400, 404, 422):
            raise RecipientRefused(
                f"the SMS gateway refused this message (HTTP {resp.status_code}: {_reason(resp)})",
                code=resp.status_code,
                bounce=False,
            )
        if resp.status_code in (401, 403):
            raise BackendUnavailable(f"the SMS gateway refused the credentials (HTTP {resp.status_code})")
        if resp.status_code >= 300:
            raise BackendUnavailable(f"the SMS gateway is unavailable (HTTP {resp.status_code})")
        try:
            answer = resp.json()
        except ValueError as exc:
            raise BackendUnavailable("the SMS gateway gave an unreadable answer") from exc
        message_id = _dig(answer, self.config.id_field)
        if not message_id:
            raise BackendUnavailable(f"the SMS gateway's answer has no '{self.config.id_field}'")
        return message_id

    def close(self) -> None:
        self.http.close()
