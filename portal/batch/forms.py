"""The batch-source form. Choices are closed sets; the list choices are the bound client's own lists."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Length, Optional

from ..formfields import choices
from ..models.batch import SCHEDULE_HOURLY, SCHEDULE_MANUAL, SCHEDULE_NIGHTLY

PROTOCOL_LABELS = {
    "sftp": _l("SFTP (SSH, recommended)"),
    "ftps": _l("FTPS (FTP over TLS)"),
    "ftp": _l("FTP (unencrypted)"),
}
SCHEDULE_LABELS = {
    SCHEDULE_NIGHTLY: _l("Every night, at the time below"),
    SCHEDULE_HOURLY: _l("Every hour, at the minute below"),
    SCHEDULE_MANUAL: _l("Only when I click “Run now”"),
}
STATUS_LABELS = {
    "subscribed": _l("Subscribed"),
    "pending": _l("Pending (they must confirm by double opt-in)"),
    "unsubscribed": _l("Unsubscribed (import as unsubscribed)"),
}


class SourceForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    protocol = RadioField(_l("Protocol"), choices=choices(PROTOCOL_LABELS.items()), default="sftp")
    host = StringField(_l("Server"), validators=[DataRequired(), Length(max=253)])
    port = IntegerField(_l("Port"), validators=[Optional()])
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=120)])
    password = PasswordField(_l("Password"), validators=[Length(max=500)])
    remote_dir = StringField(_l("Remote folder"), default="/", validators=[Length(max=255)])
    list_id = SelectField(_l("Import into the list"), coerce=int)
    status = RadioField(_l("Subscribe them as"), choices=choices(STATUS_LABELS.items()), default="subscribed")
    update_existing = BooleanField(_l("Update contacts that exist already"), default=True)
    clear_blanks = BooleanField(_l("Blank cells clear stored values"), default=False)
    allow_send = BooleanField(_l("Packages may send campaigns (ActionType full or send)"), default=False)
    schedule = RadioField(_l("When"), choices=choices(SCHEDULE_LABELS.items()), default=SCHEDULE_NIGHTLY)
    run_at = StringField(
        _l("Time (HH:MM, your account's time zone)"), default="02:00", validators=[Length(max=5)]
    )
    enabled = BooleanField(_l("Active"), default=True)
    notify_admins = BooleanField(_l("Email a summary to the account's administrators after each run"))


class PinForm(FlaskForm):
    key = HiddenField(validators=[DataRequired()])
