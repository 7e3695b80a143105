"""Filters of the per-recipient table (GET, no CSRF: they change nothing)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import Optional

from ..formfields import choices

YES_NO = [("", _l("Any")), ("yes", _l("Yes")), ("no", _l("No"))]
BOUNCED = [
    ("", _l("Any")),
    ("yes", _l("Bounced")),
    ("hard", _l("Hard bounce")),
    ("soft", _l("Soft bounce")),
    ("policy", _l("Policy block")),
    ("no", _l("Not bounced")),
]


class RecipientFilterForm(FlaskForm):
    class Meta:
        csrf = False

    opened = SelectField(_l("Opened"), choices=choices(YES_NO), validators=[Optional()])
    clicked = SelectField(_l("Clicked"), choices=choices(YES_NO), validators=[Optional()])
    bounced = SelectField(_l("Bounced"), choices=choices(BOUNCED), validators=[Optional()])
    unsubscribed = SelectField(_l("Unsubscribed"), choices=choices(YES_NO), validators=[Optional()])
    complained = SelectField(_l("Complained"), choices=choices(YES_NO), validators=[Optional()])

    def values(self) -> dict[str, str]:
        """The valid, non-empty filters (bad values are ignored, not an error page)."""
        self.validate()
        return {
            name: getattr(self, name).data
            for name in ("opened", "clicked", "bounced", "unsubscribed", "complained")
            if getattr(self, name).data and name not in self.errors
        }
