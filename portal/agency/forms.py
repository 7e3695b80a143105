"""Forms of the agency area. Every select offers only values valid for this agency."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones

from babel import Locale
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import ColorField, EmailField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from ..formfields import EmailAddress, HexColour, choices
from ..i18n import LANGUAGES
from ..models.user import (
    ROLE_AGENCY_OWNER,
    ROLE_AGENCY_STAFF,
    ROLE_CLIENT_ADMIN,
    ROLE_CLIENT_EDITOR,
    ROLE_CLIENT_VIEWER,
)

MAX_QUOTA = 100_000_000

COMMON_TIMEZONES = (
    "Europe/Rome",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Madrid",
    "Europe/Paris",
    "Europe/Brussels",
    "Europe/Amsterdam",
    "Europe/Berlin",
    "Europe/Zurich",
    "Europe/Vienna",
    "Europe/Warsaw",
    "Europe/Prague",
    "Europe/Stockholm",
    "Europe/Athens",
    "Europe/Bucharest",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Africa/Cairo",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/Mexico_City",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Toronto",
    "UTC",
)
# Codes babel lists that are not countries a phone number can belong to.
NOT_COUNTRIES = {"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"}

CLIENT_ROLE_LABELS = {
    ROLE_CLIENT_ADMIN: _l("Administrator"),
    ROLE_CLIENT_EDITOR: _l("Editor"),
    ROLE_CLIENT_VIEWER: _l("Viewer"),
}
AGENCY_ROLE_LABELS = {ROLE_AGENCY_OWNER: _l("Owner"), ROLE_AGENCY_STAFF: _l("Staff")}


@lru_cache(maxsize=1)
def _zones() -> tuple[str, ...]:
    known = available_timezones() | {"UTC"}
    return tuple(z for z in COMMON_TIMEZONES if z in known)


def timezone_choices(current: str | None = None) -> list:
    zones = list(_zones())
    if current and current not in zones and current in available_timezones():
        zones.insert(0, current)  # keep a zone set elsewhere selectable
    return choices((z, z.replace("_", " ")) for z in zones)


def region_choices() -> list:
    names = Locale.parse(str(get_locale())).territories
    pairs = [
        (code, f"{name} ({code})")
        for code, name in names.items()
        if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES
    ]
    return choices(sorted(pairs, key=lambda p: p[1]))


class KnownTimezone:
    def __call__(self, form, field):
        if field.data not in available_timezones() and field.data != "UTC":
            raise ValidationError(_l("Choose a time zone from the list."))


class BrandingForm(FlaskForm):
    name = StringField(_l("Agency name"), validators=[DataRequired(), Length(max=120)])
    primary_color = ColorField(_l("Primary colour"), validators=[DataRequired(), HexColour()])
    accent_color = ColorField(_l("Accent colour"), validators=[DataRequired(), HexColour()])
    footer_text = TextAreaField(_l("Footer text"), validators=[Optional(), Length(max=500)])
    support_email = EmailField(_l("Support email"), validators=[Optional(), EmailAddress(), Length(max=254)])
    default_locale = SelectField(_l("Default language"), choices=choices(LANGUAGES.items()))
    logo = FileField(_l("Logo"))
    favicon = FileField(_l("Favicon"))


class ClientForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    email_quota_month = IntegerField(
        _l("Emails per month"), validators=[InputRequired(), NumberRange(min=0, max=MAX_QUOTA)], default=10000
    )
    timezone = SelectField(_l("Time zone"), validators=[KnownTimezone()], default="Europe/Rome")
    default_region = SelectField(_l("Default phone region"), default="IT")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices(self.timezone.object_data)
        self.default_region.choices = region_choices()


class NewClientForm(ClientForm):
    admin_email = EmailField(
        _l("First administrator's email"), validators=[Optional(), EmailAddress(), Length(max=254)]
    )
    admin_name = StringField(_l("First administrator's name"), validators=[Optional(), Length(max=120)])


class ClientConnectionsForm(FlaskForm):
    """Which connection a client sends through, per channel: one the platform lets the agency use, or the
    agency's default. Options show the operator's labels only (`Route.label`), never a provider or kind."""

    email_connection = SelectField(_l("Email"))
    sms_connection = SelectField(_l("SMS"))

    def __init__(self, usable: dict, defaults: dict, *args, **kwargs):
        """`usable`: channel → (connection, label) pairs; `defaults`: channel → the agency's default Route."""
        super().__init__(*args, **kwargs)
        for channel, connections in usable.items():
            getattr(self, f"{channel}_connection").choices = [
                ("", _l("Agency default (%(name)s)", name=defaults[channel].label))
            ] + [(str(c.id), label) for c, label in connections]

    def connection_ids(self) -> dict[str, int | None]:
        return {
            channel: int(value) if (value := getattr(self, f"{channel}_connection").data) else None
            for channel in ("email", "sms")
        }


class InviteClientUserForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), EmailAddress(), Length(max=254)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=120)])
    role = SelectField(_l("Role"), choices=choices(CLIENT_ROLE_LABELS.items()))


class InviteStaffForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), EmailAddress(), Length(max=254)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=120)])
    role = SelectField(_l("Role"), choices=choices(AGENCY_ROLE_LABELS.items()), default=ROLE_AGENCY_STAFF)


class StaffRoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=choices(AGENCY_ROLE_LABELS.items()))
