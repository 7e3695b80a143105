"""Multi-tenant, white-label email and SMS reseller portal. `create_app` is the only entry point."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from .settings import ROOT, Settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(settings.instance_dir),
    )
    _configure(app, settings)
    _init_extensions(app, settings)
    _register_lifecycle(app)
    _register_blueprints(app)
    from . import cli, errors, templating

    errors.register(app)
    templating.register(app)
    cli.register(app)
    return app


def _configure(app: Flask, settings: Settings) -> None:
    secure = settings.secure_cookies
    app.config.update(
        PORTAL_SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        SECRET_KEY_FALLBACKS=list(settings.old_secret_keys),  # sessions signed before a rotation
        TESTING=settings.testing,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        # `__Host-` needs Secure; plain http development uses a host-only cookie without the prefix.
        SESSION_COOKIE_NAME="__Host-session" if secure else "portal_session",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_DOMAIN=None,
        SESSION_REFRESH_EACH_REQUEST=False,  # the cookie is re-sent only when the session changes
        # The cookie outlives no session: the absolute timeout (portal/context.py) ends it server-side too.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_max_hours),
        REMEMBER_COOKIE_NAME="__Host-remember" if secure else "portal_remember",
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session instead, which has its own timeouts
        WTF_CSRF_SSL_STRICT=secure,
        RATELIMIT_STORAGE_URI=settings.redis_url,
        RATELIMIT_STRATEGY="moving-window",
        RATELIMIT_KEY_PREFIX=settings.extra.get("ratelimit_prefix", "portal-rl"),
        RATELIMIT_SWALLOW_ERRORS=False,
        # Redis down (checklist I55): sign-in keeps working under per-process, per-address limits in
        # memory (Flask-Limiter logs "falling back to in-memory storage"), and goes back to Redis once it
        # answers again; a short connect timeout so a vanished server cannot hold every sign-in.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_IN_MEMORY_FALLBACK=settings.login_rate_limit,
        RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 2, "socket_timeout": 2},
        BABEL_DEFAULT_LOCALE="en",
        BABEL_TRANSLATION_DIRECTORIES=str(ROOT / "portal" / "translations"),
    )
    from .request_target import RequestTargetGuard

    # Innermost: it judges the host a trusted proxy passed on (checklist A2).
    app.wsgi_app = RequestTargetGuard(app.wsgi_app)
    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)


def _init_extensions(app: Flask, settings: Settings) -> None:
    from . import dbsetup  # noqa: F401  (registers the SQLite pragmas)
    from .auth.loader import init_login
    from .extensions import babel, csrf, db, limiter, migrate
    from .i18n import select_locale
    from .tenancy import install_guard

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    init_login(app)
    install_guard()


def _register_lifecycle(app: Flask) -> None:
    from .context import bind_user_and_client, resolve_host_and_tenant, teardown_tenant
    from .guards import enforce_route_guard
    from .headers import apply_security_headers, make_nonce

    # Host resolution must run before every extension hook (CSRF, rate limits): an unknown host gets a
    # plain 404 before anything reads the session or sets a cookie.
    hooks = app.before_request_funcs.setdefault(None, [])
    hooks[0:0] = [make_nonce, resolve_host_and_tenant, bind_user_and_client, enforce_route_guard]
    app.after_request(apply_security_headers)
    app.teardown_request(teardown_tenant)


def _register_blueprints(app: Flask) -> None:
    from .admin import bp as admin_bp
    from .adoption import views as _adoption_views  # noqa: F401 (its routes join the agency and admin blueprints)
    from .agency import bp as agency_bp
    from .audience import bp as audience_bp
    from .auth import bp as auth_bp
    from .batch import bp as batch_bp
    from .campaigns import bp as campaigns_bp
    from .client import bp as client_bp
    from .compat import bp as compat_bp
    from .forms import bp as forms_bp
    from .forms import public_bp as formpublic_bp
    from .jobs.views import bp as jobs_bp
    from .mailpublic import bp as mailpublic_bp
    from .providers.views import bp as providerhooks_bp
    from .public import bp as public_bp
    from .reports import bp as reports_bp
    from .sms.admin_views import bp as smsadmin_bp
    from .sms.hooks import bp as smshooks_bp
    from .sms.web import agency_bp as smsagency_bp
    from .sms.web import bp as sms_bp
    from .suppressions import bp as suppressions_bp
    from .transfers import bp as transfers_bp

    blueprints = (
        public_bp,
        auth_bp,
        admin_bp,
        agency_bp,
        client_bp,
        audience_bp,
        transfers_bp,
        batch_bp,
        suppressions_bp,
        campaigns_bp,
        reports_bp,
        mailpublic_bp,
        providerhooks_bp,
        forms_bp,
        formpublic_bp,
        compat_bp,
        sms_bp,
        smsagency_bp,
        smsadmin_bp,
        smshooks_bp,
        jobs_bp,
    )
    for bp in blueprints:
        app.register_blueprint(bp)
    from .api import init_app as init_api
    from .api.pages import bp as integrations_bp
    from .webhooks.views import bp as webhooks_bp

    app.register_blueprint(integrations_bp)  # client area: API keys and the API reference
    app.register_blueprint(webhooks_bp)  # client area: webhook endpoints and their delivery log
    init_api(app)  # the REST API (flask-smorest registers its blueprint and builds the document)
