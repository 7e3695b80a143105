"""Who must sign in with a second factor.

Platform operators always (their password opens every tenant). In an agency, its own staff (owners and
staff) when the agency requires it, and its clients' users when it requires that, separately.
"""

from __future__ import annotations

from ..models import Agency, User


def required_for(user: User, agency: Agency | None) -> bool:
    if user.is_platform_admin:
        return True
    if agency is None:
        return False
    if user.is_agency_staff:
        return bool(agency.two_factor_staff_required)
    if user.is_client_user:
        return bool(agency.two_factor_clients_required)
    return False


def must_enrol(user: User, agency: Agency | None) -> bool:
    """Signed in with the password but no second factor yet, where one is required: enrolment first."""
    return required_for(user, agency) and not user.has_second_factor
