"""Forms of the suppression pages (client list, agency-wide and platform-wide entries)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..formfields import choices
from ..services.suppression import BLOCK_REASONS, MANUAL_REASONS
from .labels import BLOCK_REASON_LABELS, CHANNEL_LABELS, REASON_LABELS


class FilterForm(FlaskForm):
    """GET filters of the list: no CSRF (they change nothing)."""

    class Meta:
        csrf = False

    q = StringField(_l("Address starts with"), validators=[Optional(), Length(max=254)])
    channel = SelectField(_l("Channel"), validators=[Optional()])
    reason = SelectField(_l("Reason"), validators=[Optional()])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel.choices = choices([("", _l("All channels")), *CHANNEL_LABELS.items()])
        self.reason.choices = choices([("", _l("All reasons")), *REASON_LABELS.items()])


class AddForm(FlaskForm):
    channel = SelectField(_l("Channel"), choices=choices(CHANNEL_LABELS.items()), default="email")
    addresses = TextAreaField(
        _l("Addresses or phone numbers, one per line"),
        validators=[DataRequired(), Length(max=300_000)],
    )
    reason = SelectField(
        _l("Reason"), choices=choices((r, REASON_LABELS[r]) for r in MANUAL_REASONS), default="manual"
    )
    note = StringField(_l("Note (optional)"), validators=[Length(max=500)])


class RemoveForm(FlaskForm):
    why = TextAreaField(_l("Why is this entry removed?"), validators=[Length(max=500)])


class BlockForm(FlaskForm):
    channel = SelectField(_l("Channel"), choices=choices(CHANNEL_LABELS.items()), default="email")
    address = StringField(_l("Address or phone number"), validators=[DataRequired(), Length(max=254)])
    reason = SelectField(
        _l("Reason"), choices=choices((r, BLOCK_REASON_LABELS[r]) for r in BLOCK_REASONS), default="abuse"
    )
    note = StringField(_l("Note (optional)"), validators=[Length(max=500)])
