"""Who may read a job's result inside a client: an export's file, an import's error report.

A result holds what starting the job gave access to (every contact of a list with its fields, the activity
log, the rejected rows of a file), so it is readable by the roles that may start that kind of job and by
nobody else. Today client admins and editors start all three kinds (transfers/views.py and
client/activity.py gate their start views with the same two roles); agency staff acting inside a client
count as its admins. A kind missing here has no readable result: deny by default.

Agency-level jobs (no client) are the agency's own: jobs/views.py shows them to agency staff only.
"""

from __future__ import annotations

from ..models.user import ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR
from ..services.client_activity import EXPORT_KIND as ACTIVITY_EXPORT
from ..services.exports import EXPORT_KIND as CONTACTS_EXPORT

IMPORT = "import"  # services/imports.py starts its runs with this kind
CLIENT_WRITERS = (ROLE_CLIENT_ADMIN, ROLE_CLIENT_EDITOR)
STARTERS = {
    CONTACTS_EXPORT: CLIENT_WRITERS,
    ACTIVITY_EXPORT: CLIENT_WRITERS,
    IMPORT: CLIENT_WRITERS,
}


def may_read_result(kind: str, client_role: str | None) -> bool:
    """`client_role`: guards.client_role(), the effective role inside the bound client."""
    return client_role in STARTERS.get(kind, ())
