"""The client's own settings (client admins). Quotas are shown, never edited: the agency sets them."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..guards import roles_required
from ..services import DomainError
from ..services.client_settings import update_client_settings
from ..services.client_usage import client_overview
from . import ADMINS, bp
from .forms import SettingsForm


@bp.route("/settings", methods=["GET", "POST"])
@roles_required(*ADMINS)
def settings():
    client = g.client
    form = SettingsForm(obj=client)
    if form.validate_on_submit():
        try:
            update_client_settings(
                actor=current_user._get_current_object(),
                client=client,
                name=form.name.data,
                timezone=form.timezone.data,
                default_region=form.default_region.data,
            )
        except DomainError as exc:
            db.session.rollback()
            form.name.errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("The settings are saved."), "success")
            return redirect(url_for("client.settings"))
    return render_template("client/settings.html", form=form, overview=client_overview(client))
