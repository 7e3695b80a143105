"""Delivery connections of an agency (SMTP relay, MailUp account, SMS gateway).

Non-secret settings live in `Connection.options` (JSON); secrets (passwords, client secret, API key) are
sealed with the app's Fernet keys into `secrets_encrypted` and never leave this module except through
`get_secrets`, which only backends and the connection test call. Audit rows never carry secret values.
"""

from __future__ import annotations

import smtplib
import ssl

from flask_babel import gettext as _
from sqlalchemy import func, select

from ..crypto import decrypt_json, encrypt_json
from ..extensions import db
from ..hosts import BadHost, normalise_host
from ..models import Agency, Client, Connection, User
from ..models.connection import KIND_MAILUP, KIND_SMS, KIND_SMTP, KINDS
from . import DomainError, NotFound
from .audit import record

TLS_MODES = ("none", "starttls", "ssl")
SMTP_TIMEOUT = 10

# Which keys each kind keeps in clear (options) and sealed (secrets).
OPTION_KEYS = {
    KIND_SMTP: ("host", "port", "tls", "username"),
    KIND_MAILUP: ("client_id", "username", "console_host", "no_logo"),
    KIND_SMS: ("provider",),
}
SECRET_KEYS = {
    KIND_SMTP: ("password",),
    KIND_MAILUP: ("client_secret", "password"),
    KIND_SMS: ("api_key",),
}


# Connection events land in the agency's own activity log and CSV export: they must not name the provider
# behind the white label (agencies never see "MailUp"), so the audit uses neutral labels.
AUDIT_KIND = {KIND_SMTP: "smtp", KIND_MAILUP: "email-api", KIND_SMS: "sms"}


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


def resolve_connection(client: Client, channel: str) -> Connection | None:
    """The connection a client sends through on one channel: its own binding, else its agency's default
    for that channel, else None (the platform's relay). The one place that decides it; sending asks here."""
    connection_id = client.email_connection_id if channel == "email" else client.sms_connection_id
    if connection_id is None:
        agency = db.session.get(Agency, client.agency_id)
        if agency is not None:
            connection_id = (
                agency.default_email_connection_id if channel == "email" else agency.default_sms_connection_id
            )
    if connection_id is None:
        return None
    return db.session.scalar(
        select(Connection).where(Connection.id == connection_id, Connection.agency_id == client.agency_id)
    )


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
    elif kind == KIND_SMS:
        if not opts["provider"]:
            raise FieldError("provider", _("Provider: this field is required."))
    return opts


def _host(value: str | None, field: str, label: str) -> str:
    if not value:
        raise FieldError(field, _("%(label)s: this field is required.", label=label))
    try:
        return normalise_host(value)
    except BadHost as exc:
        raise FieldError(
            field, _("%(label)s: '%(value)s' is not a valid host name.", label=label, value=value)
        ) from exc


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
    stored = get_secrets(connection)
    changed_secrets = sorted(
        key for key in SECRET_KEYS[connection.kind] if secrets.get(key) and secrets[key] != stored.get(key)
    )
    merged = {**stored, **{key: secrets[key] for key in changed_secrets}}
    _required_secrets(connection.kind, merged, opts)
    changed = sorted(k for k in opts if (connection.options or {}).get(k) != opts[k])
    if name != connection.name:
        changed.insert(0, "name")
    connection.name = name
    connection.options = opts
    if changed_secrets:
        connection.secrets_encrypted = encrypt_json(merged)
    if changed or changed_secrets:
        record(
            "connection.updated",
            actor=actor,
            agency_id=connection.agency_id,
            target=connection.name,
            kind=AUDIT_KIND[connection.kind],
            settings=", ".join(changed) or "-",
            secrets=", ".join(changed_secrets) or "-",
        )


def delete_connection(*, actor: User, connection: Connection) -> None:
    in_use = db.session.scalar(
        select(func.count())
        .select_from(Client)
        .where(Client.agency_id == connection.agency_id, Client.email_connection_id == connection.id)
    )
    if in_use:
        raise DomainError(
            _(
                "%(n)s client account(s) send through this connection. Move them to another one first.",
                n=in_use,
            )
        )
    record(
        "connection.deleted",
        actor=actor,
        agency_id=connection.agency_id,
        target=connection.name,
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
        target=connection.name,
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
