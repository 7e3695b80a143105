"""Delivery connections of an agency (SMTP relay, MailUp account, SMS gateway).

Non-secret settings live in `Connection.options` (JSON); secrets (passwords, client secret, API key) are
sealed with the app's Fernet keys into `secrets_encrypted` and never leave this module except through
`get_secrets`, which only backends and the connection test call. Audit rows never carry secret values.
"""

from __future__ import annotations

import json
import re
import secrets as secrets_module
import smtplib
import ssl
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask_babel import ngettext
from sqlalchemy import func, or_, select

from ..crypto import SecretError, decrypt_json, encrypt_json
from ..extensions import db
from ..hosts import BadHost, normalise_host
from ..models import Agency, Campaign, Client, Connection, User
from ..models.campaign import CAMPAIGN_PAUSED, CAMPAIGN_SENDING
from ..models.connection import KIND_MAILUP, KIND_SMS, KIND_SMTP, KINDS
from . import DomainError, NotFound, i18n_safe
from .audit import record
from .i18n_safe import _  # connections are also made outside a request (the dev seed)

TLS_MODES = ("none", "starttls", "ssl")
SMTP_TIMEOUT = 10

# Which keys each kind keeps in clear (options) and sealed (secrets).
OPTION_KEYS = {
    KIND_SMTP: ("host", "port", "tls", "username"),
    KIND_MAILUP: ("client_id", "username", "console_host", "no_logo", "account_model", "list_id", "api_base"),
    # The HTTP SMS gateway (backends/sms_gateway.py); its callback token (`hook_token`) is made once at
    # creation and kept by updates (it is not a form field).
    KIND_SMS: ("provider", "endpoint", "auth", "auth_header", "id_field", "request_template", "reports"),
}
SECRET_KEYS = {
    KIND_SMTP: ("password",),
    KIND_MAILUP: ("client_secret", "password"),
    KIND_SMS: ("api_key",),
}


# Connection events land in the agency's own activity log and CSV export: they must not name the provider
# behind the white label (agencies never see "MailUp"), so the audit uses neutral labels.
AUDIT_KIND = {KIND_SMTP: "smtp", KIND_MAILUP: "email-api", KIND_SMS: "sms"}
# The same rule for names: agencies see `Connection.name`, so it may not name the provider (the pattern of
# tests/test_white_label_crawl.py, which is the judge of the agency pages).
PROVIDER_NAME = re.compile(r"mail\s*up", re.IGNORECASE)


class FieldError(DomainError):
    """A validation error about one input; `field` names it so a form can show it next to the input."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def get_connection(agency: Agency, connection_id: int) -> Connection:
    connection = db.session.scalar(
        select(Connection).where(Connection.id == connection_id, Connection.agency_id == agency.id)
    )
    if connection is None:
        raise NotFound("connection")
    return connection


# Which kinds can carry each channel (MailUp sends both email and SMS; a relay only email).
CHANNEL_KINDS = {"email": (KIND_SMTP, KIND_MAILUP), "sms": (KIND_SMS, KIND_MAILUP)}
# Where each channel's choice is stored: on the client (its own binding) and on the agency (its default).
BINDING_COLUMN = {"email": "email_connection_id", "sms": "sms_connection_id"}
DEFAULT_COLUMN = {"email": "default_email_connection_id", "sms": "default_sms_connection_id"}
# Campaigns that started on a connection and will go on through it (a paused one resumes on it).
RUNNING_STATUSES = (CAMPAIGN_SENDING, CAMPAIGN_PAUSED)


def effective_connection_id(client: Client, agency: Agency | None, channel: str) -> tuple[int | None, bool]:
    """The precedence, written once: the client's own binding for the channel, else its agency's default
    for it, else None (the platform's relay). Returns (connection id, inherited from the agency)."""
    if channel not in CHANNEL_KINDS:
        raise ValueError(f"unknown channel {channel!r}")
    own = getattr(client, BINDING_COLUMN[channel])
    if own is not None:
        return own, False
    return (getattr(agency, DEFAULT_COLUMN[channel]) if agency is not None else None), True


def resolve_connection(client: Client, channel: str) -> Connection | None:
    """The connection a client sends through on one channel: its own binding, else its agency's default
    for that channel, else None (the platform's relay). The one place that decides it; sending asks here."""
    agency = db.session.get(Agency, client.agency_id)
    connection_id, _inherited = effective_connection_id(client, agency, channel)
    if connection_id is None:
        return None
    return db.session.scalar(
        select(Connection).where(Connection.id == connection_id, Connection.agency_id == client.agency_id)
    )


def agency_label(connection: Connection) -> str:
    """The name an agency sees: the operator's label, or a neutral one when the label names the provider
    (a row older than the naming rule in `_check_name`, or written around it). Never the kind."""
    if PROVIDER_NAME.search(connection.name or ""):
        return i18n_safe._("Connection %(id)s", id=connection.id)
    return connection.name


def list_connections(agency: Agency) -> list[Connection]:
    return list(
        db.session.scalars(
            select(Connection).where(Connection.agency_id == agency.id).order_by(Connection.name)
        )
    )


def get_secrets(connection: Connection) -> dict:
    """The decrypted secrets of a connection. For backends and tests of the connection only."""
    return decrypt_json(connection.secrets_encrypted)


def _clean_options(kind: str, options: dict) -> dict:
    """Validate and normalise the non-secret settings of one kind; errors name the field."""
    opts = {key: options.get(key) for key in OPTION_KEYS[kind]}
    for key, value in opts.items():
        if isinstance(value, str):
            opts[key] = value.strip()
    if kind == KIND_SMTP:
        opts["host"] = _host(opts["host"], "host", _("Host"))
        try:
            port = int(opts["port"])
        except (TypeError, ValueError):
            port = 0
        if not 1 <= port <= 65535:
            raise FieldError("port", _("Port: enter a number between 1 and 65535."))
        opts["port"] = port
        if opts["tls"] not in TLS_MODES:
            raise FieldError("tls", _("TLS: choose none, STARTTLS or SSL/TLS."))
        opts["username"] = opts["username"] or ""
    elif kind == KIND_MAILUP:
        if not opts["client_id"]:
            raise FieldError("client_id", _("Client ID: this field is required."))
        if not opts["username"]:
            raise FieldError("username", _("Username: this field is required."))
        opts["console_host"] = _host(opts["console_host"] or "services.mailup.com", "console_host", _("Host"))
        opts["no_logo"] = bool(opts["no_logo"])
        # §18: a list per client in a shared account, or an account per client (its existing list).
        if opts["account_model"] not in ("shared", "per_client"):
            opts["account_model"] = "shared"
        try:
            opts["list_id"] = int(opts["list_id"]) if opts["list_id"] else None
        except (TypeError, ValueError):
            raise FieldError("list_id", _("List id: enter a whole number.")) from None
        opts["api_base"] = _api_base(opts["api_base"])
    elif kind == KIND_SMS:
        if not opts["provider"]:
            raise FieldError("provider", _("Provider: this field is required."))
        _clean_sms_gateway(opts)
    return opts


def _clean_sms_gateway(opts: dict) -> None:
    """The HTTP gateway's endpoint, authentication, request template (a JSON object) and answer field."""
    endpoint = urlsplit(opts["endpoint"] or "")
    if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
        raise FieldError(
            "endpoint", _("Endpoint: enter the gateway's send URL, e.g. https://sms.example.com/send.")
        )
    if opts["auth"] not in ("bearer", "basic", "header", "none"):
        opts["auth"] = "bearer"
    opts["auth_header"] = opts["auth_header"] or "X-Api-Key"
    opts["id_field"] = opts["id_field"] or "id"
    template = opts["request_template"]
    if isinstance(template, str) and template.strip():
        try:
            template = json.loads(template)
        except ValueError as exc:
            raise FieldError(
                "request_template", _("Request template: not valid JSON (%(error)s).", error=str(exc))
            ) from None
        if not isinstance(template, dict):
            raise FieldError("request_template", _("Request template: write a JSON object, {...}."))
    opts["request_template"] = template if isinstance(template, dict) and template else None
    opts["reports"] = bool(opts["reports"])


def _host(value: str | None, field: str, label: str) -> str:
    if not value:
        raise FieldError(field, _("%(label)s: this field is required.", label=label))
    try:
        return normalise_host(value)
    except BadHost as exc:
        raise FieldError(
            field, _("%(label)s: '%(value)s' is not a valid host name.", label=label, value=value)
        ) from exc


def _api_base(value: str | None) -> str:
    """Optional: one base URL for every REST call of the account (a local emulator, a proxy). Empty means
    the provider's own hosts. Only scheme, host and port (and a path prefix) are kept: a query or a
    fragment would be dropped silently by every call, so it is refused instead."""
    value = (value or "").strip()
    if not value:
        return ""
    parts = urlsplit(value)
    try:
        port_ok = parts.port is None or 1 <= parts.port <= 65535
    except ValueError:
        port_ok = False
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or parts.query
        or parts.fragment
    ):
        raise FieldError(
            "api_base",
            _(
                "API base: '%(value)s' is not a valid URL; enter e.g. https://api.example.com or "
                "http://127.0.0.1:8030, or leave it empty.",
                value=value,
            ),
        )
    return value.rstrip("/")


def _required_secrets(kind: str, secrets: dict, options: dict) -> None:
    missing = {
        KIND_MAILUP: (("client_secret", _("Client secret")), ("password", _("Password"))),
        KIND_SMS: (("api_key", _("API key")),),
        # An SMTP password is only needed when a username is set.
        KIND_SMTP: (("password", _("Password")),) if options.get("username") else (),
    }[kind]
    for key, label in missing:
        if not secrets.get(key):
            raise FieldError(key, _("%(label)s: this field is required.", label=label))


def _check_name(agency_id: int, name: str, exclude_id: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise FieldError("name", _("Name: this field is required."))
    if PROVIDER_NAME.search(name):
        raise FieldError(
            "name",
            _("Name: the agency's staff see this name, so it must not mention MailUp (the white label)."),
        )
    query = (
        select(func.count())
        .select_from(Connection)
        .where(Connection.agency_id == agency_id, func.lower(Connection.name) == name.lower())
    )
    if exclude_id is not None:
        query = query.where(Connection.id != exclude_id)
    if db.session.scalar(query):
        raise FieldError(
            "name", _("Name: this agency already has a connection called '%(name)s'.", name=name)
        )
    return name


def create_connection(
    *, actor: User, agency: Agency, kind: str, name: str, options: dict, secrets: dict
) -> Connection:
    if kind not in KINDS:
        raise DomainError(_("Unknown connection type."))
    name = _check_name(agency.id, name)
    opts = _clean_options(kind, options)
    sealed = {key: secrets[key] for key in SECRET_KEYS[kind] if secrets.get(key)}
    _required_secrets(kind, sealed, opts)
    # agency_id is explicit: the back-office runs under all_tenants(), where nothing is stamped.
    if kind == KIND_SMS:  # the secret in the gateway's callback URLs (portal/sms/hooks.py)
        opts["hook_token"] = secrets_module.token_urlsafe(24)
    connection = Connection(
        agency_id=agency.id, kind=kind, name=name, options=opts, secrets_encrypted=encrypt_json(sealed)
    )
    db.session.add(connection)
    db.session.flush()
    record("connection.created", actor=actor, agency_id=agency.id, target=name, kind=AUDIT_KIND[kind])
    return connection


def update_connection(
    *, actor: User, connection: Connection, name: str, options: dict, secrets: dict
) -> None:
    """Blank secret inputs keep the stored value; only the names of changed settings are audited."""
    name = _check_name(connection.agency_id, name, exclude_id=connection.id)
    opts = _clean_options(connection.kind, options)
    try:
        stored = get_secrets(connection)
    except SecretError:
        stored = {}  # written with a key no longer configured: the form must give them all again
    changed_secrets = sorted(
        key for key in SECRET_KEYS[connection.kind] if secrets.get(key) and secrets[key] != stored.get(key)
    )
    merged = {**stored, **{key: secrets[key] for key in changed_secrets}}
    _required_secrets(connection.kind, merged, opts)
    changed = sorted(k for k in opts if (connection.options or {}).get(k) != opts[k])
    if name != connection.name:
        changed.insert(0, "name")
    connection.name = name
    # Settings the form does not show (e.g. `rate_per_second`, set by an operator script) are kept.
    kept = {k: v for k, v in (connection.options or {}).items() if k not in OPTION_KEYS[connection.kind]}
    connection.options = {**kept, **opts}
    if changed_secrets:
        connection.secrets_encrypted = encrypt_json(merged)
    if changed or changed_secrets:
        record(
            "connection.updated",
            actor=actor,
            agency_id=connection.agency_id,
            target=agency_label(connection),
            kind=AUDIT_KIND[connection.kind],
            settings=", ".join(changed) or "-",
            secrets=", ".join(changed_secrets) or "-",
        )


@dataclass
class Usage:
    """Who relies on one connection: the channels it is the agency's default for, the client accounts bound
    to it (id, name, channel), and campaigns that started through it and have not finished."""

    defaults: list[str] = field(default_factory=list)
    clients: list[tuple[int, str, str]] = field(default_factory=list)
    campaigns: int = 0

    def __bool__(self) -> bool:
        return bool(self.defaults or self.clients or self.campaigns)

    @property
    def client_names(self) -> list[str]:
        """One name per bound client account (a client bound on both channels counts once)."""
        return list({client_id: name for client_id, name, _channel in self.clients}.values())


def usage_by_connection(agency: Agency) -> dict[int, Usage]:
    """Usage of every connection of the agency that is in use, in three queries (the back-office table and
    the delete check read the same answer)."""
    uses: dict[int, Usage] = defaultdict(Usage)
    for channel, column in DEFAULT_COLUMN.items():
        if getattr(agency, column) is not None:
            uses[getattr(agency, column)].defaults.append(channel)
    bound = db.session.execute(
        select(Client.id, Client.name, Client.email_connection_id, Client.sms_connection_id)
        .where(
            Client.agency_id == agency.id,
            or_(Client.email_connection_id.is_not(None), Client.sms_connection_id.is_not(None)),
        )
        .order_by(Client.name, Client.id)
    )
    for client_id, name, email_id, sms_id in bound:
        for channel, connection_id in (("email", email_id), ("sms", sms_id)):
            if connection_id is not None:
                uses[connection_id].clients.append((client_id, name, channel))
    running = db.session.execute(
        select(Campaign.connection_id, func.count(Campaign.id))
        .where(
            Campaign.agency_id == agency.id,
            Campaign.connection_id.is_not(None),
            Campaign.status.in_(RUNNING_STATUSES),
        )
        .group_by(Campaign.connection_id)
    )
    for connection_id, n in running:
        uses[connection_id].campaigns = n
    return dict(uses)


def channel_label(channel: str) -> str:
    return {"email": i18n_safe._("email"), "sms": i18n_safe._("SMS")}[channel]


def _in_use_message(connection: Connection, use: Usage) -> str:
    parts = [
        _("it is the agency's default %(channel)s connection", channel=channel_label(channel))
        for channel in use.defaults
    ]
    names = use.client_names
    if names:
        shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        parts.append(
            ngettext(
                "%(num)s client account sends through it (%(names)s)",
                "%(num)s client accounts send through it (%(names)s)",
                len(names),
                names=shown,
            )
        )
    if use.campaigns:
        parts.append(
            ngettext(
                "%(num)s campaign started through it has not finished",
                "%(num)s campaigns started through it have not finished",
                use.campaigns,
            )
        )
    return _(
        "%(name)s cannot be deleted while it is in use: %(uses)s.",
        name=connection.name,
        uses="; ".join(parts),
    )


def delete_connection(*, actor: User, connection: Connection) -> None:
    """Refused while anything would silently fall back to another backend: an agency default pointing
    nowhere, a client bound to it (the binding would be cleared), a send that started through it."""
    agency = db.session.get(Agency, connection.agency_id)
    use = usage_by_connection(agency).get(connection.id) if agency is not None else None
    if use:
        raise DomainError(_in_use_message(connection, use))
    record(
        "connection.deleted",
        actor=actor,
        agency_id=connection.agency_id,
        target=agency_label(connection),
        kind=AUDIT_KIND[connection.kind],
    )
    db.session.delete(connection)


def check_smtp(connection: Connection, timeout: float = SMTP_TIMEOUT) -> str:
    """Connect, EHLO, STARTTLS and log in as configured. Returns the server's greeting on success and
    raises DomainError with the exact error otherwise. Sends nothing."""
    if connection.kind != KIND_SMTP:
        raise DomainError(_("Only SMTP connections can be tested this way."))
    opts = connection.options or {}
    host, port, tls = opts.get("host", ""), int(opts.get("port") or 0), opts.get("tls", "none")
    context = ssl.create_default_context()
    try:
        if tls == "ssl":
            client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            code, banner = client.ehlo()
            if code != 250:
                raise smtplib.SMTPResponseException(code, banner)
            if tls == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if opts.get("username"):
                client.login(opts["username"], get_secrets(connection).get("password", ""))
            return banner.decode("utf-8", "replace").splitlines()[0] if banner else host
    except (TimeoutError, smtplib.SMTPException, ssl.SSLError, OSError) as exc:
        raise DomainError(_("The SMTP test failed: %(error)s", error=_describe(exc))) from exc


def run_connection_test(*, actor: User, connection: Connection) -> tuple[bool, str]:
    """Test a connection and audit the attempt (the outcome, never a secret). Returns (ok, message)."""
    try:
        greeting = check_smtp(connection)
    except DomainError as exc:
        ok, message = False, str(exc)
    else:
        ok, message = True, _("SMTP test succeeded: %(greeting)s", greeting=greeting)
    record(
        "connection.tested",
        actor=actor,
        agency_id=connection.agency_id,
        target=agency_label(connection),
        kind=AUDIT_KIND[connection.kind],
        ok="yes" if ok else "no",
    )
    return ok, message


def _describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        message = (
            exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        )
        return f"{exc.smtp_code} {message}"
    if isinstance(exc, TimeoutError):
        return f"{type(exc).__name__}: timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
