"""Agencies and their domains: list, create, detail, branding basics, suspend/reactivate, hosts."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from ..extensions import db
from ..models import Agency, Client, User
from ..services import DomainError, agencies
from ..services.connections import list_connections, usage_by_connection
from . import bp, two_factor
from .common import agency_or_404, domain_or_404, flash_error, flash_form_errors
from .connections import defaults_form
from .forms import AgencyCreateForm, AgencyEditForm, DomainForm


@bp.route("/agencies")
def agency_list():
    client_counts = dict(
        db.session.execute(select(Client.agency_id, func.count(Client.id)).group_by(Client.agency_id)).all()
    )
    rows = db.session.scalars(select(Agency).order_by(Agency.name)).all()
    return render_template("admin/agencies/list.html", agencies=rows, client_counts=client_counts)


@bp.route("/agencies/new", methods=["GET", "POST"])
def agency_new():
    form = AgencyCreateForm()
    if form.validate_on_submit():
        try:
            agency = agencies.create_agency(
                actor=current_user,
                name=form.name.data,
                slug=form.slug.data,
                default_locale=form.default_locale.data,
            )
        except DomainError as exc:
            db.session.rollback()
            form.slug.errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Agency %(name)s created.", name=agency.name), "success")
            return redirect(url_for("admin.agency_detail", agency_id=agency.id))
    return render_template("admin/agencies/new.html", form=form)


@bp.route("/agencies/<int:agency_id>")
def agency_detail(agency_id: int):
    agency = agency_or_404(agency_id)
    counts = {
        "clients": db.session.scalar(select(func.count(Client.id)).where(Client.agency_id == agency.id)),
        "users": db.session.scalar(select(func.count(User.id)).where(User.agency_id == agency.id)),
    }
    return render_template(
        "admin/agencies/detail.html",
        agency=agency,
        counts=counts,
        domains=sorted(agency.domains, key=lambda d: (not d.is_canonical, d.host)),
        connections=list_connections(agency),
        usage=usage_by_connection(agency),
        defaults_form=defaults_form(
            agency,
            data={
                "email_connection": str(agency.default_email_connection_id or ""),
                "sms_connection": str(agency.default_sms_connection_id or ""),
            },
        ),
        domain_form=DomainForm(),
        two_factor_form=two_factor.policy_form(agency),
        owners=two_factor.agency_owners(agency),
    )


@bp.route("/agencies/<int:agency_id>/edit", methods=["GET", "POST"])
def agency_edit(agency_id: int):
    agency = agency_or_404(agency_id)
    form = AgencyEditForm(obj=agency)
    if form.validate_on_submit():
        try:
            agencies.update_agency_profile(
                actor=current_user,
                agency=agency,
                **{name: getattr(form, name).data for name in agencies.PROFILE_FIELDS},
            )
        except DomainError as exc:
            flash_error(exc)
        else:
            db.session.commit()
            flash(_("Agency saved."), "success")
            return redirect(url_for("admin.agency_detail", agency_id=agency.id))
    return render_template("admin/agencies/edit.html", agency=agency, form=form)


@bp.route("/agencies/<int:agency_id>/status", methods=["POST"])
def agency_status(agency_id: int):
    agency = agency_or_404(agency_id)
    active = request.form.get("active") == "1"
    agencies.set_agency_status(actor=current_user, agency=agency, active=active)
    db.session.commit()
    if active:
        flash(_("Agency %(name)s reactivated.", name=agency.name), "success")
    else:
        flash(
            _(
                "Agency %(name)s suspended: its hosts stop answering and its users are signed out.",
                name=agency.name,
            ),
            "success",
        )
    return redirect(url_for("admin.agency_detail", agency_id=agency.id))


@bp.route("/agencies/<int:agency_id>/domains", methods=["POST"])
def domain_add(agency_id: int):
    agency = agency_or_404(agency_id)
    form = DomainForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for("admin.agency_detail", agency_id=agency.id, _anchor="domains"))
    try:
        domain = agencies.add_domain(actor=current_user, agency=agency, host=form.host.data)
    except DomainError as exc:
        flash_error(exc)
    else:
        db.session.commit()
        if domain.verified_at:
            flash(_("%(host)s added and verified.", host=domain.host), "success")
        else:
            flash(
                _(
                    "%(host)s added. Publish the DNS TXT record shown below, then check DNS.",
                    host=domain.host,
                ),
                "success",
            )
    return redirect(url_for("admin.agency_detail", agency_id=agency.id, _anchor="domains"))


@bp.route("/agencies/<int:agency_id>/domains/<int:domain_id>/verify", methods=["POST"])
def domain_verify(agency_id: int, domain_id: int):
    agency = agency_or_404(agency_id)
    domain = domain_or_404(agency, domain_id)
    if agencies.verify_domain(actor=current_user, domain=domain, resolver=_resolver()):
        db.session.commit()
        flash(_("%(host)s is verified and now answers.", host=domain.host), "success")
    else:
        flash(
            _(
                "The TXT record for %(host)s was not found yet. DNS changes can take a while to propagate.",
                host=domain.host,
            ),
            "warning",
        )
    return redirect(url_for("admin.agency_detail", agency_id=agency.id, _anchor="domains"))


def _resolver():
    """The DNS lookup; the app may hand in another one (tests stand in for DNS, an external system)."""
    from flask import current_app

    return current_app.extensions.get("portal_txt_resolver") or agencies.lookup_txt


@bp.route("/agencies/<int:agency_id>/domains/<int:domain_id>/canonical", methods=["POST"])
def domain_canonical(agency_id: int, domain_id: int):
    agency = agency_or_404(agency_id)
    domain = domain_or_404(agency, domain_id)
    try:
        agencies.make_canonical(actor=current_user, domain=domain)
    except DomainError as exc:
        flash_error(exc)
    else:
        db.session.commit()
        flash(_("%(host)s is now the main domain: emailed links use it.", host=domain.host), "success")
    return redirect(url_for("admin.agency_detail", agency_id=agency.id, _anchor="domains"))


@bp.route("/agencies/<int:agency_id>/domains/<int:domain_id>/delete", methods=["POST"])
def domain_remove(agency_id: int, domain_id: int):
    agency = agency_or_404(agency_id)
    domain = domain_or_404(agency, domain_id)
    host = domain.host
    try:
        agencies.remove_domain(actor=current_user, domain=domain)
    except DomainError as exc:
        flash_error(exc)
    else:
        db.session.commit()
        flash(_("%(host)s removed.", host=host), "success")
    return redirect(url_for("admin.agency_detail", agency_id=agency.id, _anchor="domains"))
