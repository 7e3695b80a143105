"""WTForms validators shared by every area's forms."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

from .emailaddr import normalise_address

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class EmailAddress:
    """Valid address syntax (email-validator); the field data is replaced by the normalised address."""

    def __call__(self, form, field):
        if not field.data:
            return
        try:
            field.data = normalise_address(field.data)
        except ValueError as exc:
            raise ValidationError(_l("Enter a valid email address (%(reason)s).", reason=str(exc))) from exc


class HexColour:
    def __call__(self, form, field):
        if field.data and not HEX_COLOUR.match(field.data):
            raise ValidationError(_l("Use a colour like #2458d6."))


def choices(pairs) -> list:
    """(value, label) pairs as WTForms SelectChoice objects (tuples are deprecated in WTForms 3.3)."""
    from wtforms.fields.choices import SelectChoice

    return [SelectChoice(value, label) for value, label in pairs]
