"""The adoption form: which lists of the account, how groups come over, which portal list each list
maps onto. Every choice offered is one the account or the client really has (filled by the view)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, SelectMultipleField, widgets
from wtforms.validators import DataRequired

from ..formfields import choices

GROUPS_AS_LABELS = {
    "segments": _l("as segments (one field “Groups” and a segment per group)"),
    "lists": _l("as lists (a list per group)"),
}


class CheckboxList(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class AdoptionForm(FlaskForm):
    lists = CheckboxList(_l("Lists to import"), coerce=int, validators=[DataRequired()])
    groups_as = RadioField(
        _l("Bring the groups over"), choices=choices(GROUPS_AS_LABELS.items()), default="segments"
    )
    client = SelectField(_l("Client"), coerce=int)  # back-office only: the client to import into

    def set_choices(self, preview: dict, portal_lists: list, clients: list | None = None) -> None:
        self.lists.choices = choices((item["id"], item["name"]) for item in preview.get("lists", []))
        if not self.lists.data and not self.is_submitted():
            self.lists.data = [item["id"] for item in preview.get("lists", [])]
        self.portal_lists = portal_lists
        if clients is None:
            del self.client
        else:
            self.client.choices = choices((c.id, c.name) for c in clients)

    def targets(self, form_data) -> dict[int, int]:
        """`target-<remote id>` = an existing portal list of the client (anything else: a new list)."""
        valid = {lst.id for lst in self.portal_lists}
        out = {}
        for remote in self.lists.data or []:
            raw = form_data.get(f"target-{remote}", "")
            if raw.isdigit() and int(raw) in valid:
                out[remote] = int(raw)
        return out
