"""Small helpers shared by the back-office views."""

from __future__ import annotations

from flask import abort, flash
from sqlalchemy import select

from ..extensions import db
from ..models import Agency, Domain
from ..services import DomainError


def agency_or_404(agency_id: int) -> Agency:
    agency = db.session.scalar(select(Agency).where(Agency.id == agency_id))
    if agency is None:
        abort(404)
    return agency


def domain_or_404(agency: Agency, domain_id: int) -> Domain:
    domain = db.session.scalar(select(Domain).where(Domain.id == domain_id, Domain.agency_id == agency.id))
    if domain is None:
        abort(404)
    return domain


def flash_error(exc: DomainError) -> None:
    db.session.rollback()
    flash(str(exc), "error")


def flash_form_errors(form) -> None:
    for field_name, errors in form.errors.items():
        label = getattr(form, field_name).label.text if hasattr(form, field_name) else field_name
        for error in errors:
            flash(f"{label}: {error}", "error")
