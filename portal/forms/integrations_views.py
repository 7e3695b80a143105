"""The client's Integrations page: the integration guide's two questions (where does the contact
registry live, where are messages composed), the path for each answer, and ready snippets with the
client's own ids, list numbers and agency host; the switch and IP allow-list of the plugin endpoints.

The pages of other features (the REST API reference, FTP batch sources) are linked only when they are
installed: they are found in the URL map, never assumed."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.routing import Rule

from ..compat import access as compat_access
from ..extensions import db
from ..guards import roles_required
from ..links import agency_base_url
from ..models.user import ROLE_CLIENT_ADMIN
from ..services import DomainError
from ..services import lists as list_svc
from . import bp, builder
from .wtf import CompatForm


def _page_of(blueprint_prefix: str, word: str = "") -> str | None:
    """The URL of the first argument-less GET page of a blueprint whose name starts with the prefix
    (and whose endpoint contains `word`), or None when that feature is not installed."""
    rules: list[Rule] = sorted(current_app.url_map.iter_rules(), key=lambda r: r.rule)
    for rule in rules:
        blueprint = rule.endpoint.rpartition(".")[0]
        if not blueprint.startswith(blueprint_prefix) or rule.arguments or "GET" not in (rule.methods or ()):
            continue
        if word in rule.endpoint and rule.rule.startswith("/app"):
            return url_for(rule.endpoint)
    return None


def _first_url(*endpoints: str) -> str | None:
    """The URL of the first of these argument-less endpoints that exists (url_for, guarded)."""
    for endpoint in endpoints:
        if endpoint in current_app.view_functions:
            return url_for(endpoint)
    return None


def _compat_form() -> CompatForm:
    current = compat_access.get_access(g.client)
    form = CompatForm()
    if not form.is_submitted():
        form.enabled.data = bool(current and current.enabled)
        form.allowed_ips.data = current.allowed_ips if current else ""
    return form


@bp.route("/integrations")
def integrations():
    base_url = agency_base_url(g.agency)
    current = compat_access.get_access(g.client)
    return render_template(
        "forms/integrations.html",
        base_url=base_url,
        console_host=base_url.split("://", 1)[1],
        lists=list_svc.list_lists(),
        forms=builder.list_forms(),
        compat_on=bool(current and current.enabled),
        compat_form=_compat_form(),
        subscribe_url=base_url + url_for("compat.frontend", prefix="frontend", page="xmlSubscribe.aspx"),
        api_url=_first_url("integrations.reference", "integrations.keys") or _page_of("api"),
        ftp_url=_page_of("batch"),
    )


@bp.route("/integrations/endpoints", methods=["POST"])
@roles_required(ROLE_CLIENT_ADMIN)
def compat_settings():
    form = _compat_form()
    if form.validate_on_submit():
        try:
            compat_access.update_access(
                actor=current_user._get_current_object(),
                client=g.client,
                enabled=bool(form.enabled.data),
                allowed_ips=form.allowed_ips.data or "",
            )
        except DomainError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(
                _("The plugin endpoints are on.")
                if form.enabled.data
                else _("The plugin endpoints are off."),
                "success",
            )
    return redirect(url_for("forms.integrations") + "#plugins")
