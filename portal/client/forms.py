"""Forms of the client area. Choices are closed sets: client roles, known time zones, ISO countries."""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from ..formfields import EmailAddress, choices
from ..models.user import ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR, ROLE_CLIENT_VIEWER
from ..services.client_settings import regions, time_zones

ROLE_LABELS = {
    ROLE_CLIENT_ADMIN: _l("Admin"),
    ROLE_CLIENT_EDITOR: _l("Editor"),
    ROLE_CLIENT_VIEWER: _l("Viewer"),
}
ROLE_HELP = {
    ROLE_CLIENT_ADMIN: _l("Everything, including users and settings."),
    ROLE_CLIENT_EDITOR: _l("Everything except users and settings."),
    ROLE_CLIENT_VIEWER: _l("Can look at everything, change nothing."),
}


def _role_choices():
    return choices(ROLE_LABELS.items())


class InviteForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), EmailAddress(), Length(max=254)])
    name = StringField(_l("Name"), validators=[Length(max=120)])
    role = SelectField(_l("Role"), choices=_role_choices(), default=ROLE_CLIENT_VIEWER)


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=_role_choices())


class SettingsForm(FlaskForm):
    name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=120)])
    timezone = SelectField(_l("Time zone"))
    default_region = SelectField(_l("Default phone region"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = choices((z, z.replace("_", " ")) for z in time_zones())
        locale = str(get_locale() or "en")
        self.default_region.choices = choices((c, f"{name} ({c})") for c, name in regions(locale))
