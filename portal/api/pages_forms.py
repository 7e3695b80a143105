"""Forms of the client-area API pages (keys)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..formfields import choices

SCOPE_LABELS = {
    "read": _l("read: lists, contacts, campaigns, statistics, events"),
    "write": _l("write: contacts, subscriptions, suppressions, lists, campaign drafts"),
    "send": _l("send: test, schedule and send campaigns and SMS"),
}


class MultiCheckbox(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class KeyForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    scopes = MultiCheckbox(_l("Scopes"), choices=choices(SCOPE_LABELS.items()), validators=[DataRequired()])
    expires_on = DateField(_l("Expires on (optional)"), validators=[Optional()])
    rate_limit = IntegerField(
        _l("Requests a minute"), default=120, validators=[DataRequired(), NumberRange(1, 6000)]
    )
