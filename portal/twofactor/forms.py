"""The agency's two-factor requirements, a form shared by the agency's Security page and the operator's
agency page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField


class TwoFactorPolicyForm(FlaskForm):
    staff_required = BooleanField(_l("Require two-factor sign-in for the agency's staff"))
    clients_required = BooleanField(_l("Require two-factor sign-in for the clients' users"))
