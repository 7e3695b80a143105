"""Forms of imports and exports. Every choice is a closed set built from the bound client's own rows."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from ..formfields import choices
from ..imports import engine

MAX_PASTE = 100_000  # characters (the form-field memory limit is 500 kB); larger sets go through an upload

NEW_KINDS = {
    "text": _l("New field: text"),
    "number": _l("New field: number"),
    "date": _l("New field: date"),
    "boolean": _l("New field: yes/no"),
}
STATUS_LABELS = {
    "subscribed": _l("Subscribed"),
    "unsubscribed": _l("Unsubscribed (import as unsubscribed)"),
    "pending": _l("Pending (they must confirm by double opt-in)"),
}
BLANK_LABELS = {
    "keep": _l("Keep the stored value"),
    "clear": _l("Clear the stored value"),
}


class UploadForm(FlaskForm):
    file = FileField(_l("File"), validators=[FileRequired(_l("Choose a file."))])


class PasteForm(FlaskForm):
    text = TextAreaField(
        _l("Contacts"),
        validators=[DataRequired(_l("Paste at least one line.")), Length(max=MAX_PASTE)],
        render_kw={"rows": 10, "spellcheck": "false"},
    )


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class _MappingBase(FlaskForm):
    lists = CheckboxList(
        _l("Add the contacts to these lists"),
        coerce=int,
        validators=[InputRequired(_l("Choose at least one list."))],
    )
    update_existing = BooleanField(_l("Update contacts that exist already"), default=True)
    status = RadioField(_l("Subscribe them as"), choices=choices(STATUS_LABELS.items()), default="subscribed")
    blanks = RadioField(_l("When a cell is blank"), choices=choices(BLANK_LABELS.items()), default="keep")

    column_names: list[str] = []

    def column_fields(self):
        return [getattr(self, f"col_{i}") for i in range(len(self.column_names))]

    def mapping(self) -> dict[str, str]:
        return {str(i): f.data for i, f in enumerate(self.column_fields()) if f.data}


def target_choices(fields) -> list:
    pairs = [
        ("", _l("— ignore —")),
        (engine.EMAIL, _l("Email address")),
        (engine.PHONE, _l("Mobile number (complete)")),
        (engine.PHONE_PREFIX, _l("Mobile number: country code")),
        (engine.PHONE_NUMBER, _l("Mobile number: without country code")),
    ]
    pairs += [(f"{engine.FIELD_PREFIX}{f.key}", f"{f.label} · {f.key}") for f in fields]
    pairs += [(f"new:{kind}", label) for kind, label in NEW_KINDS.items()]
    return pairs


def mapping_form(columns: list[str], fields, lists, suggested: dict[str, str], **kwargs) -> _MappingBase:
    """A form class with one select per column of this file (col_0, col_1, …)."""
    targets = target_choices(fields)

    class MappingForm(_MappingBase):
        pass

    for i, name in enumerate(columns):
        setattr(
            MappingForm,
            f"col_{i}",
            SelectField(name, choices=choices(targets), default=suggested.get(str(i), "")),
        )
    MappingForm.column_names = list(columns)
    form = MappingForm(**kwargs)
    form.lists.choices = choices((lst.id, lst.name) for lst in lists)
    return form


class ExportForm(FlaskForm):
    """`source` is "list:<id>", "segment:<id>" or "suppression"; the service looks the object up through
    the tenant filter, so another client's id answers 404 like a missing one."""

    source = StringField(_l("What to export"), validators=[DataRequired(), Length(max=40)])
