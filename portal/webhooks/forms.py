"""The webhook endpoint form of the client area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField, URLField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..formfields import choices
from ..models.webservice import WEBHOOK_EVENTS

EVENT_LABELS = {
    "subscribe": _l("Subscribe"),
    "unsubscribe": _l("Unsubscribe"),
    "bounce": _l("Bounce"),
    "complaint": _l("Complaint"),
    "delivered": _l("Delivered"),
    "open": _l("Open"),
    "click": _l("Click"),
    "sms_delivery": _l("SMS delivery"),
    "import_finished": _l("Import finished"),
    "campaign_finished": _l("Campaign finished"),
}


class MultiCheckbox(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class WebhookForm(FlaskForm):
    url = URLField(_l("Endpoint URL"), validators=[DataRequired(), Length(max=2000)])
    description = StringField(_l("Description"), validators=[Optional(), Length(max=200)])
    events = MultiCheckbox(
        _l("Events"),
        choices=choices((e, EVENT_LABELS[e]) for e in WEBHOOK_EVENTS),
        validators=[DataRequired()],
    )
