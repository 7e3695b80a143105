"""Senders: the client's sender domains (DNS records to publish, verification) and sender identities."""

from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..guards import roles_required
from ..services import DomainError, NotFound
from ..services import campaigns as campaign_svc
from ..services import senders as svc
from . import WRITERS, bp
from .forms import DomainForm, IdentityForm


def _actor():
    return current_user._get_current_object()


def _resolver():
    """The DNS lookup; the app may hand in another one (tests stand in for DNS, an external system)."""
    return current_app.extensions.get("portal_txt_resolver") or svc.lookup_txt


def _page(domain_form=None, identity_form=None):
    from sqlalchemy import select

    from ..models import SenderDomain

    domains = list(db.session.scalars(select(SenderDomain).order_by(SenderDomain.domain)))
    identities = campaign_svc.senders_of_client()
    return render_template(
        "campaigns/senders.html",
        domains=[(d, svc.dns_records(d)) for d in domains],
        identities=identities,
        domain_form=domain_form or DomainForm(),
        identity_form=identity_form or IdentityForm(),
    )


@bp.route("/senders")
def senders():
    return _page()


@bp.route("/senders/domains", methods=["POST"])
@roles_required(*WRITERS)
def add_domain():
    form = DomainForm()
    if form.validate_on_submit():
        try:
            d = svc.add_domain(actor=_actor(), client=g.client, domain=form.domain.data)
        except DomainError as exc:
            db.session.rollback()
            form.domain.errors.append(str(exc))
        else:
            db.session.commit()
            flash(
                _("%(domain)s added. Publish its DNS records, then check them.", domain=d.domain), "success"
            )
            return redirect(url_for("campaigns.senders", _anchor=f"domain-{d.id}"))
    return _page(domain_form=form), 400


@bp.route("/senders/domains/<int:sender_domain_id>/check", methods=["POST"])
@roles_required(*WRITERS)
def check_domain(sender_domain_id: int):
    try:
        d = svc.get_domain(sender_domain_id)
    except NotFound:
        abort(404)
    results = svc.check_domain(actor=_actor(), d=d, resolver=_resolver())
    db.session.commit()
    if d.verified_at is not None and all(results.values()):
        flash(_("%(domain)s is verified: you can send from it.", domain=d.domain), "success")
    else:
        flash(
            _(
                "Not all records of %(domain)s were found yet. DNS changes can take a while to propagate.",
                domain=d.domain,
            ),
            "warning",
        )
    return redirect(url_for("campaigns.senders", _anchor=f"domain-{d.id}"))


@bp.route("/senders/identities", methods=["POST"])
@roles_required(*WRITERS)
def add_identity():
    form = IdentityForm()
    if form.validate_on_submit():
        try:
            ident = svc.add_identity(
                actor=_actor(),
                client=g.client,
                name=form.name.data,
                email=form.email.data,
                reply_to=form.reply_to.data or "",
            )
        except DomainError as exc:
            db.session.rollback()
            form.email.errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("%(email)s can now be chosen as a sender.", email=ident.email), "success")
            return redirect(url_for("campaigns.senders", _anchor="identities"))
    return _page(identity_form=form), 400


@bp.route("/senders/identities/<int:identity_id>/delete", methods=["POST"])
@roles_required(*WRITERS)
def remove_identity(identity_id: int):
    try:
        email = campaign_svc.remove_identity(actor=_actor(), client=g.client, identity_id=identity_id)
    except NotFound:
        abort(404)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(_("%(email)s is removed from your senders.", email=email), "success")
    return redirect(url_for("campaigns.senders", _anchor="identities"))
