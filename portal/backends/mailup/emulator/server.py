"""Serving the emulator: in a thread on a free port (tests), or in the foreground (the CLI)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app
from .state import AccountSpec, EmulatorState, Options

DEMO_ACCOUNT = AccountSpec("m12345", "demo-mailup-password", "demo-client-id", "demo-client-secret")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # tests read the state, not an access log
        pass


@dataclass
class EmulatorHandle:
    url: str
    state: EmulatorState
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def console_url(self) -> str:
        return self.url + "/API/v1.1/Rest/ConsoleService.svc"

    @property
    def statistics_url(self) -> str:
        return self.url + "/API/v1.1/Rest/MailStatisticsService.svc"

    @property
    def token_url(self) -> str:
        return self.url + "/Authorization/OAuth/Token"

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()
        if self.state.path:
            self.state.save()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def build_state(accounts: list[AccountSpec] | None = None, state_file=None, **options) -> EmulatorState:
    """A state with these accounts (the demo account when none and the file holds none)."""
    state = EmulatorState(Options(**options), path=state_file)
    for spec in accounts or ([] if state.accounts else [DEMO_ACCOUNT]):
        try:
            state.account(spec.username)
        except KeyError:
            state.add_account(spec.username, spec.password, spec.client_id, spec.client_secret)
    return state


def start_emulator(
    state: EmulatorState | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    accounts: list[AccountSpec] | None = None,
    quiet: bool = True,
    **options,
) -> tuple[str, EmulatorHandle]:
    """Serve the emulator in a daemon thread; port 0 picks a free one. Returns (base url, handle):
    `handle.state` is the live state (function API), `handle.stop()` shuts it down."""
    state = state or build_state(accounts, **options)
    server = make_server(
        host, port, create_app(state), threaded=True, request_handler=_QuietHandler if quiet else None
    )
    url = f"http://{host}:{server.server_port}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="mailup-emulator", daemon=True
    )
    thread.start()
    return url, EmulatorHandle(url, state, server, thread)


def serve(state: EmulatorState, host: str, port: int) -> None:
    """Serve in the foreground until interrupted; the state file (if any) is written on the way out."""
    stop_saving = state.start_autosave()
    server = make_server(host, port, create_app(state), threaded=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        stop_saving.set()
        state.save()
