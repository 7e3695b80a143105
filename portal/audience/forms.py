"""Forms of the audience pages. Choices are closed sets scoped to the bound client (its lists, its fields)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, Length, Optional

from ..formfields import EmailAddress, choices
from ..models.audience import SUB_STATUSES

KIND_LABELS = {
    "text": _l("Text"),
    "number": _l("Number"),
    "date": _l("Date"),
    "boolean": _l("Yes/no"),
    "choice": _l("Choice"),
}
STATUS_LABELS = {
    "subscribed": _l("Subscribed"),
    "unsubscribed": _l("Unsubscribed"),
    "pending": _l("Waiting for confirmation"),
    "bounced": _l("Bounced"),
    "complained": _l("Complained"),
}
CHANNEL_LABELS = {"email": _l("Email"), "sms": _l("SMS")}
SOURCE_LABELS = {
    "import": _l("Import"),
    "form": _l("Form"),
    "api": _l("API"),
    "manual": _l("Added by hand"),
    "plugin": _l("Plugin or script (subscribe endpoints)"),
    "preferences": _l("Preferences page"),
}


class CheckboxList(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class ListForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Length(max=2000)])
    public_name = StringField(_l("Public name"), validators=[Length(max=120)])
    default_sender_name = StringField(_l("Default sender name"), validators=[Length(max=120)])
    default_sender_email = EmailField(
        _l("Default sender email"), validators=[Optional(), EmailAddress(), Length(max=254)]
    )
    double_opt_in = BooleanField(_l("Double opt-in: new subscribers confirm by email"), default=True)
    email_enabled = BooleanField(_l("Email"), default=True)
    sms_enabled = BooleanField(_l("SMS"))


class FieldForm(FlaskForm):
    label = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    kind = SelectField(_l("Type"), choices=choices(KIND_LABELS.items()), default="text")
    choices_text = TextAreaField(
        _l("Choices"), validators=[Length(max=4000)], description=_l("One per line (for choice fields).")
    )


class ContactSearchForm(FlaskForm):
    """GET form: no CSRF (it changes nothing)."""

    class Meta:
        csrf = False

    q = StringField(_l("Email or phone"), validators=[Optional(), Length(max=254)])
    field = SelectField(_l("Field"), validators=[Optional()])
    value = StringField(_l("Value"), validators=[Optional(), Length(max=1000)])
    list = SelectField(_l("List"), validators=[Optional()])
    status = SelectField(_l("Status"), validators=[Optional()])

    def __init__(self, *args, lists=(), fields=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.field.choices = choices([("", _l("Any field"))] + [(f.key, f.label) for f in fields])
        self.list.choices = choices([("", _l("All lists"))] + [(str(lst.id), lst.name) for lst in lists])
        self.status.choices = choices(
            [("", _l("Any status"))] + [(s, STATUS_LABELS[s]) for s in SUB_STATUSES]
        )


def contact_form_class(fields):
    """A form with one input per custom field (typed widgets) and the client's lists as checkboxes."""

    class ContactForm(FlaskForm):
        email = EmailField(_l("Email"), validators=[Length(max=254)])
        phone = StringField(_l("Phone"), validators=[Length(max=40)])
        lists = CheckboxList(_l("Subscribe to lists"), coerce=int, validators=[Optional()])

    for f in fields:
        setattr(ContactForm, f"field_{f.key}", _input_for(f))
    return ContactForm


def _input_for(f):
    label = f.label
    if f.kind == "boolean":
        return SelectField(
            label, choices=choices([("", "—"), ("yes", _l("Yes")), ("no", _l("No"))]), default=""
        )
    if f.kind == "choice":
        return SelectField(
            label, choices=choices([("", "—")] + [(c, c) for c in f.choices or []]), default=""
        )
    if f.kind == "date":
        return DateField(label, validators=[Optional()])
    return StringField(label, validators=[Length(max=1000)])


class SegmentForm(FlaskForm):
    """Name and match; the condition rows are parallel lists read by `segment_rules_from`."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    match = SelectField(
        _l("Contacts must match"),
        choices=choices([("all", _l("all of the conditions")), ("any", _l("any of the conditions"))]),
        default="all",
    )


def segment_rules_from(form_data) -> dict:
    """Rules from the editor's rows (`cond_type`, `cond_key`, …, one value per row; empty rows dropped)."""
    names = ("type", "key", "operator", "value", "list_id", "status")
    columns = {n: form_data.getlist(f"cond_{n}") for n in names}
    rows = max((len(v) for v in columns.values()), default=0)
    conditions = []
    for i in range(min(rows, 50)):
        row = {n: (columns[n][i] if i < len(columns[n]) else "") for n in names}
        kind = row["type"]
        if not kind:
            continue
        if kind == "field":
            conditions.append(
                {"type": kind, "key": row["key"], "operator": row["operator"], "value": row["value"]}
            )
        elif kind == "list":
            conditions.append(
                {"type": kind, "list_id": row["list_id"], "status": row["status"] or "subscribed"}
            )
        elif kind == "not_in_list":
            conditions.append({"type": kind, "list_id": row["list_id"]})
        elif kind == "email_domain":
            conditions.append({"type": kind, "value": row["value"]})
        elif kind in ("has_email", "has_phone", "no_email", "no_phone"):
            present = kind.startswith("has_")
            conditions.append({"type": "has_" + kind.split("_", 1)[1], "present": present})
        else:
            conditions.append({"type": kind})
    return {"match": form_data.get("match", "all"), "conditions": conditions}
