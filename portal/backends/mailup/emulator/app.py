"""The emulator's Flask app: one blueprint per API area, MailUp's error bodies, case-insensitive paths."""

from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import HTTPException

from . import auth
from .events import EventError
from .query import QueryError
from .recipients import RecipientError
from .routes import (
    admin,
    console_account,
    console_emails,
    console_recipients,
    console_sms,
    frontend,
    prefill,
    stats,
)
from .sendings import SendError
from .state import EmulatorState
from .web import ApiError, error_response

CONSOLE = "/api/v1.1/rest/consoleservice.svc/console"
STATISTICS = "/api/v1.1/rest/mailstatisticsservice.svc"


class _Serialised:
    """WSGI wrapper: paths matched case-insensitively (IIS/WCF, §1), one request at a time on the state,
    and the work that happens "later" (due imports, scheduled and queued sendings) before and after."""

    def __init__(self, wsgi_app, state: EmulatorState):
        self.wsgi_app = wsgi_app
        self.state = state

    def __call__(self, environ, start_response):
        environ["PATH_INFO"] = environ.get("PATH_INFO", "").lower()
        with self.state.lock:
            if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
                self.state.dirty = True  # the autosave writes the file soon after
            self.state.process_due()
            try:
                return self.wsgi_app(environ, start_response)
            finally:
                self.state.process_due()


def create_app(state: EmulatorState) -> Flask:
    app = Flask(__name__)
    app.extensions["mailup_emulator"] = state
    app.url_map.strict_slashes = False
    app.register_blueprint(auth.bp)
    for module in (console_account, console_recipients, console_emails, console_sms):
        app.register_blueprint(module.bp, url_prefix=CONSOLE)
    app.register_blueprint(stats.bp, url_prefix=STATISTICS)
    app.register_blueprint(frontend.bp, url_prefix="/frontend")
    app.register_blueprint(admin.bp, url_prefix="/_emulator")
    app.register_blueprint(prefill.bp, url_prefix="/_emulator")

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return error_response(exc)

    @app.errorhandler(QueryError)
    @app.errorhandler(RecipientError)
    @app.errorhandler(SendError)
    @app.errorhandler(EventError)
    def bad_request(exc: Exception):
        return error_response(ApiError(400, str(exc)))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return error_response(ApiError(exc.code or 500, exc.description or exc.name))

    app.wsgi_app = _Serialised(app.wsgi_app, state)
    return app
