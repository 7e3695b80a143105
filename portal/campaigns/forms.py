"""Forms of the campaign pages. Every choice is a closed set scoped to the bound client."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..emailaddr import normalise_address
from ..formfields import EmailAddress, choices
from ..services.campaigns import MAX_TEST_ADDRESSES, STARTERS

STATUS_LABELS = {
    "draft": _l("Draft"),
    "scheduled": _l("Scheduled"),
    "sending": _l("Sending"),
    "paused": _l("Paused"),
    "sent": _l("Sent"),
    "cancelled": _l("Cancelled"),
    "failed": _l("Failed"),
}
STARTER_LABELS = {
    "newsletter": (_l("Newsletter"), _l("A header, a featured story, two columns of news and a footer.")),
    "announcement": (_l("Announcement"), _l("One big message with a picture and a call to action.")),
    "plain": (_l("Plain letter"), _l("A simple, personal letter: text first, no frills.")),
}


class CheckboxList(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class NewCampaignForm(FlaskForm):
    name = StringField(_l("Campaign name"), validators=[DataRequired(), Length(max=200)])
    starter = RadioField(
        _l("Start from"),
        choices=choices([("", _l("Blank"))] + [(k, STARTER_LABELS[k][0]) for k in STARTERS]),
        default="newsletter",
        validators=[Optional()],
    )


class CampaignForm(FlaskForm):
    name = StringField(_l("Campaign name"), validators=[DataRequired(), Length(max=200)])
    subject = StringField(_l("Subject"), validators=[Length(max=255)])
    preheader = StringField(
        _l("Preheader"),
        validators=[Length(max=255)],
        description=_l("The short line inboxes show after the subject."),
    )
    sender_id = SelectField(_l("Sender"), coerce=str, validators=[Optional()])
    reply_to = EmailField(_l("Reply-to"), validators=[Optional(), EmailAddress(), Length(max=254)])
    lists = CheckboxList(_l("Send to these lists"), coerce=int, validators=[Optional()])
    segments = CheckboxList(_l("…and these segments"), coerce=int, validators=[Optional()])
    exclude_lists = CheckboxList(_l("Leave out these lists"), coerce=int, validators=[Optional()])
    exclude_segments = CheckboxList(_l("Leave out these segments"), coerce=int, validators=[Optional()])
    track_opens = BooleanField(_l("Track opens"), default=True)
    track_clicks = BooleanField(_l("Track clicks"), default=True)
    html = TextAreaField(_l("HTML"), validators=[Length(max=1_000_000)])
    text = TextAreaField(_l("Plain text"), validators=[Length(max=500_000)])
    text_edited = BooleanField(_l("Keep my plain text (don't regenerate it from the HTML)"))
    save = SubmitField(_l("Save"))
    regenerate = SubmitField(_l("Regenerate the plain text from the HTML"))

    def __init__(self, *args, senders=(), lists=(), segments=(), **kwargs):
        super().__init__(*args, **kwargs)
        from wtforms.fields.choices import SelectChoice

        built = [SelectChoice("", str(_l("Choose a sender")))]
        for ident, domain in senders:
            label = f"{ident.name} <{ident.email}>"
            if domain.verified_at is None:
                built.append(
                    SelectChoice(str(ident.id), f"{label} — {_l('domain not verified')}", {"disabled": True})
                )
            else:
                built.append(SelectChoice(str(ident.id), label))
        self.sender_id.choices = built
        list_choices = choices([(lst.id, lst.name) for lst in lists])
        segment_choices = choices([(s.id, s.name) for s in segments])
        self.lists.choices = list_choices
        self.exclude_lists.choices = list(list_choices)
        self.segments.choices = segment_choices
        self.exclude_segments.choices = list(segment_choices)
        self._known = {str(i.id) for i, _d in senders}

    def validate_sender_id(self, field):
        if field.data and field.data not in self._known:
            raise ValidationError(_l("Choose one of your senders."))


class TestSendForm(FlaskForm):
    addresses = StringField(
        _l("Send a test to"),
        validators=[DataRequired(), Length(max=2000)],
        description=_l("Up to 5 addresses, separated by commas."),
    )

    def validate_addresses(self, field):
        raw = [a.strip() for a in field.data.replace(";", ",").replace("\n", ",").split(",") if a.strip()]
        if len(raw) > MAX_TEST_ADDRESSES:
            raise ValidationError(_l("Send a test to at most %(n)s addresses.", n=MAX_TEST_ADDRESSES))
        clean = []
        for address in raw:
            try:
                clean.append(normalise_address(address))
            except ValueError as exc:
                raise ValidationError(
                    _l(
                        "%(address)s is not a valid email address (%(reason)s).",
                        address=address,
                        reason=str(exc),
                    )
                ) from exc
        self.clean_addresses = clean


class ScheduleForm(FlaskForm):
    when = DateTimeLocalField(_l("Send on"), format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])


class DomainForm(FlaskForm):
    domain = StringField(_l("Domain"), validators=[DataRequired(), Length(max=253)])


class IdentityForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(_l("Email address"), validators=[DataRequired(), EmailAddress(), Length(max=254)])
    reply_to = EmailField(_l("Reply-to"), validators=[Optional(), EmailAddress(), Length(max=254)])


class ImageForm(FlaskForm):
    image = FileField(_l("Image"), validators=[FileRequired()])
