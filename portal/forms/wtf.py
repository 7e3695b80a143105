"""WTForms of the form builder. Choices are the bound client's own lists and fields."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.validators import DataRequired, Length

from ..formfields import choices

CHANNEL_CHOICES = (("email", _l("Email address")), ("sms", _l("Mobile number")))
LANGUAGE_CHOICES = (("en", "English"), ("it", "Italiano"))
REQUEST_LABELS = {
    "pending": _l("Waiting for confirmation"),
    "confirmed": _l("Confirmed by email"),
    "direct": _l("Subscribed (consent box)"),
    "expired": _l("Expired unconfirmed"),
}


class CheckboxList(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class BuilderForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    title = StringField(_l("Heading shown on the form"), validators=[Length(max=200)])
    list_ids = CheckboxList(_l("Subscribe to these lists"), coerce=int)
    channels = CheckboxList(_l("Ask for"), choices=choices(CHANNEL_CHOICES), default=["email"])
    shown_fields = CheckboxList(_l("Fields"))
    required_fields = CheckboxList(_l("Required fields"))
    double_opt_in = BooleanField(_l("Double opt-in: new subscribers confirm by email"), default=True)
    consent_text = TextAreaField(_l("Consent text"), validators=[Length(max=4000)])
    success_message = TextAreaField(_l("Message after subscribing"), validators=[Length(max=2000)])
    redirect_url = StringField(_l("Or send subscribers to this page"), validators=[Length(max=500)])
    allowed_origins = TextAreaField(_l("Your sites that embed the form"), validators=[Length(max=4000)])
    language = SelectField(_l("Language"), choices=choices(LANGUAGE_CHOICES), default="en")
    active = BooleanField(_l("Active: the form accepts subscriptions"), default=True)


class CompatForm(FlaskForm):
    enabled = BooleanField(_l("Answer plugins and scripts on the subscribe endpoints"))
    allowed_ips = TextAreaField(_l("Only from these IP addresses"), validators=[Length(max=4000)])
