"""Serving the gateway emulator: in a thread on a free port (tests, `make dev`) or in the foreground."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app
from .state import GatewayState


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


@dataclass
class GatewayHandle:
    url: str
    state: GatewayState
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def send_url(self) -> str:
        return self.url + "/send"

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_gateway_emulator(
    state: GatewayState | None = None, *, host: str = "127.0.0.1", port: int = 0, quiet: bool = True
) -> tuple[str, GatewayHandle]:
    """Serve in a daemon thread; port 0 picks a free one. Returns (base url, handle)."""
    state = state or GatewayState()
    server = make_server(
        host, port, create_app(state), threaded=True, request_handler=_QuietHandler if quiet else None
    )
    url = f"http://{host}:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, name="sms-gateway-emulator", daemon=True)
    thread.start()
    return url, GatewayHandle(url, state, server, thread)
