"""The branding editor (owners only), with a live preview driven by static/js/branding-preview.js."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..guards import roles_required
from ..models.user import ROLE_AGENCY_OWNER
from ..services import DomainError
from ..services import branding as branding_service
from ..services.branding import FAVICON, LOGO
from . import bp
from .forms import BrandingForm


def _actor():
    return current_user._get_current_object()


def _upload(field) -> bytes | None:
    """The uploaded bytes, at most one byte past the field's limit (enough to say "too large")."""
    storage = field.data
    if storage is None or not getattr(storage, "filename", ""):
        return None
    limit = LOGO.max_bytes if field.name == "logo" else FAVICON.max_bytes
    return storage.stream.read(limit + 1)


@bp.route("/branding", methods=["GET", "POST"])
@roles_required(ROLE_AGENCY_OWNER)
def branding():
    agency = g.agency
    get_locale()  # settle this request's language before the default language may change under it
    form = BrandingForm(obj=agency)
    if form.validate_on_submit():
        if _save(form, agency):
            db.session.commit()
            flash(_("Branding saved. Every page now uses it."), "success")
            return redirect(url_for("agency.branding"))
    return render_template("agency/branding.html", form=form, limits={"logo": LOGO, "favicon": FAVICON}), (
        400 if form.errors else 200
    )


def _save(form: BrandingForm, agency) -> bool:
    """All or nothing: a rejected upload leaves every setting as it was."""
    field = form.name
    try:
        branding_service.update_branding(
            actor=_actor(),
            agency=agency,
            name=form.name.data,
            primary_color=form.primary_color.data,
            accent_color=form.accent_color.data,
            footer_text=form.footer_text.data or "",
            support_email=form.support_email.data or "",
            default_locale=form.default_locale.data,
        )
        logo = _upload(form.logo)
        if logo is not None:
            field = form.logo
            branding_service.set_logo(actor=_actor(), agency=agency, data=logo)
        favicon = _upload(form.favicon)
        if favicon is not None:
            field = form.favicon
            branding_service.set_favicon(actor=_actor(), agency=agency, data=favicon)
    except DomainError as exc:
        db.session.rollback()
        field.errors = [*field.errors, str(exc)]
        return False
    return True


@bp.route("/branding/logo/remove", methods=["POST"])
@roles_required(ROLE_AGENCY_OWNER)
def remove_logo():
    branding_service.remove_logo(actor=_actor(), agency=g.agency)
    db.session.commit()
    flash(_("The logo is removed."), "success")
    return redirect(url_for("agency.branding"))


@bp.route("/branding/favicon/remove", methods=["POST"])
@roles_required(ROLE_AGENCY_OWNER)
def remove_favicon():
    branding_service.remove_favicon(actor=_actor(), agency=g.agency)
    db.session.commit()
    flash(_("The favicon is removed."), "success")
    return redirect(url_for("agency.branding"))
