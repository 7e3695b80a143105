"""Back-office forms. Choices are fixed sets or come from the database; nothing else is accepted."""

from __future__ import annotations

import json

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    ColorField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..formfields import EmailAddress, HexColour, choices
from ..i18n import LANGUAGES
from ..services.connections import TLS_MODES


def _languages():
    return choices(LANGUAGES.items())


class AgencyCreateForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    slug = StringField(
        _l("Short name"),
        validators=[DataRequired(), Length(max=63)],
        description=_l(
            "Lower-case letters, digits and dashes. The portal answers on <short name>.<base domain>."
        ),
    )
    default_locale = SelectField(_l("Default language"), choices=_languages())


class AgencyEditForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    primary_color = ColorField(_l("Primary colour"), validators=[DataRequired(), HexColour()])
    accent_color = ColorField(_l("Accent colour"), validators=[DataRequired(), HexColour()])
    footer_text = TextAreaField(_l("Footer text"), validators=[Optional(), Length(max=2000)])
    support_email = StringField(_l("Support email"), validators=[Optional(), Length(max=254), EmailAddress()])
    default_locale = SelectField(_l("Default language"), choices=_languages())


class DomainForm(FlaskForm):
    host = StringField(_l("Host name"), validators=[DataRequired(), Length(max=253)])


class _ConnectionForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])

    # Keys of the service's option/secret dictionaries.
    option_fields: tuple[str, ...] = ()
    secret_fields: tuple[str, ...] = ()

    def options(self) -> dict:
        return {key: getattr(self, key).data for key in self.option_fields}

    def secrets(self) -> dict:
        return {key: getattr(self, key).data or "" for key in self.secret_fields}


class SmtpConnectionForm(_ConnectionForm):
    host = StringField(_l("Host"), validators=[DataRequired(), Length(max=253)])
    port = IntegerField(_l("Port"), default=587, validators=[DataRequired(), NumberRange(1, 65535)])
    tls = SelectField(
        _l("TLS"),
        default="starttls",
        choices=choices(zip(TLS_MODES, (_l("None"), _l("STARTTLS"), _l("SSL/TLS")), strict=True)),
    )
    username = StringField(_l("Username"), validators=[Optional(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[Optional(), Length(max=512)])

    option_fields = ("host", "port", "tls", "username")
    secret_fields = ("password",)


class MailupConnectionForm(_ConnectionForm):
    client_id = StringField(_l("Client ID"), validators=[DataRequired(), Length(max=200)])
    client_secret = PasswordField(_l("Client secret"), validators=[Optional(), Length(max=512)])
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[Optional(), Length(max=512)])
    console_host = StringField(
        _l("Console host"), default="services.mailup.com", validators=[DataRequired(), Length(max=253)]
    )
    no_logo = BooleanField(_l("“NO LOGO” white-label account"), default=True)
    account_model = SelectField(
        _l("Account model"),
        choices=choices(
            [
                ("shared", _l("One list per client in a shared account")),
                ("per_client", _l("One account per client (its existing list)")),
            ]
        ),
        default="shared",
    )
    list_id = IntegerField(
        _l("List id (one account per client)"), validators=[Optional(), NumberRange(min=1)]
    )

    api_base = StringField(_l("API base URL"), validators=[Optional(), Length(max=300)])

    option_fields = (
        "client_id",
        "username",
        "console_host",
        "no_logo",
        "account_model",
        "list_id",
        "api_base",
    )
    secret_fields = ("client_secret", "password")


class SmsConnectionForm(_ConnectionForm):
    provider = StringField(_l("Provider"), validators=[DataRequired(), Length(max=120)])
    endpoint = StringField(_l("Send URL"), validators=[DataRequired(), Length(max=500)])
    auth = SelectField(
        _l("Authentication"),
        choices=choices(
            [
                ("bearer", _l("Bearer token")),
                ("basic", _l("HTTP basic (user:password)")),
                ("header", _l("Key in a header")),
                ("none", _l("None")),
            ]
        ),
        default="bearer",
    )
    auth_header = StringField(_l("Header name"), validators=[Optional(), Length(max=64)], default="X-Api-Key")
    api_key = PasswordField(_l("API key"), validators=[Optional(), Length(max=512)])
    request_template = TextAreaField(_l("Request template (JSON)"), validators=[Optional(), Length(max=4000)])
    id_field = StringField(
        _l("Message id field of the answer"), validators=[Optional(), Length(max=64)], default="id"
    )
    reports = BooleanField(_l("The gateway posts delivery reports"), default=True)

    option_fields = ("provider", "endpoint", "auth", "auth_header", "id_field", "request_template", "reports")
    secret_fields = ("api_key",)

    def process(self, formdata=None, obj=None, data=None, **kwargs):
        super().process(formdata, obj, data, **kwargs)
        if isinstance(self.request_template.data, dict):  # stored as an object, edited as text
            self.request_template.data = json.dumps(self.request_template.data, indent=2)


CONNECTION_FORMS = {"smtp": SmtpConnectionForm, "mailup": MailupConnectionForm, "sms": SmsConnectionForm}
# The back-office may name the provider; nothing below it does.
KIND_LABELS = {"smtp": "SMTP", "mailup": "MailUp", "sms": _l("SMS gateway")}


class AgencyDefaultsForm(FlaskForm):
    """The agency's default connection per channel. Choices: that agency's connections able to carry the
    channel (the service checks again), or none: the platform's relay for email, no SMS."""

    email_connection = SelectField(_l("Default email connection"))
    sms_connection = SelectField(_l("Default SMS connection"))

    def __init__(self, usable: dict, *args, **kwargs):
        super().__init__(*args, **kwargs)
        unset = {"email": _l("Platform relay"), "sms": _l("None: no SMS")}
        for channel, connections in usable.items():
            getattr(self, f"{channel}_connection").choices = [("", unset[channel])] + [
                (str(c.id), f"{c.name} ({KIND_LABELS[c.kind]})") for c in connections
            ]

    def connection_ids(self) -> dict[str, int | None]:
        return {
            channel: int(value) if (value := getattr(self, f"{channel}_connection").data) else None
            for channel in ("email", "sms")
        }


class PlatformUserForm(FlaskForm):
    email = StringField(_l("Email"), validators=[DataRequired(), Length(max=254), EmailAddress()])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=120)])


class AuditFilterForm(FlaskForm):
    """GET filters: no CSRF (nothing changes), values outside the choices are rejected."""

    class Meta:
        csrf = False

    agency = SelectField(_l("Agency"), default="", validate_choice=True)
    action = SelectField(_l("Action"), default="", validate_choice=True)
