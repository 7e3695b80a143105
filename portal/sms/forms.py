"""Forms of the SMS pages (labels in English; Italian in the catalogue)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional


class NewSmsForm(FlaskForm):
    name = StringField(_l("Campaign name"), validators=[DataRequired(), Length(max=200)])


class SmsCampaignForm(FlaskForm):
    name = StringField(_l("Campaign name"), validators=[DataRequired(), Length(max=200)])
    sender = SelectField(_l("Sender id"), coerce=str, validators=[Optional()])
    text = TextAreaField(_l("Text"), validators=[Length(max=1600)])
    lists = SelectMultipleField(_l("Lists"), coerce=int, validators=[Optional()])
    segments = SelectMultipleField(_l("Segments"), coerce=int, validators=[Optional()])

    def __init__(self, senders, lists, segments, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sender.choices = [("", "—")] + [(str(s.id), s.value) for s in senders]
        self.lists.choices = [(item.id, item.name) for item in lists]
        self.segments.choices = [(s.id, s.name) for s in segments]


class TestSmsForm(FlaskForm):
    number = StringField(_l("Phone number"), validators=[DataRequired(), Length(max=32)])


class SenderRequestForm(FlaskForm):
    value = StringField(_l("Sender id"), validators=[DataRequired(), Length(max=16)])


class CreditMoveForm(FlaskForm):
    amount = IntegerField(_l("Credits"), validators=[InputRequired(), NumberRange(min=1, max=100_000_000)])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=255)])


class PriceForm(FlaskForm):
    country = StringField(_l("Country"), validators=[DataRequired(), Length(max=2)])
    credits_per_segment = IntegerField(
        _l("Credits per segment"), validators=[InputRequired(), NumberRange(min=1, max=1000)]
    )


class KeywordsForm(FlaskForm):
    keywords = StringField(_l("Opt-out keywords"), validators=[DataRequired(), Length(max=500)])


class QuietHoursForm(FlaskForm):
    start = StringField(_l("No SMS from"), validators=[Optional(), Length(max=5)])
    end = StringField(_l("until"), validators=[Optional(), Length(max=5)])


class ScheduleSmsForm(FlaskForm):
    when = DateTimeLocalField(_l("Send on"), format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])
