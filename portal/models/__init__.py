"""All models, one module per aggregate. Import from here."""

from .agency import AGENCY_ACTIVE, AGENCY_SUSPENDED, Agency, Domain
from .audit import AuditEvent
from .client import CLIENT_ACTIVE, CLIENT_SUSPENDED, Client
from .connection import Connection
from .jobrun import JobRun
from .token import ActionToken
from .user import Membership, User

__all__ = [
    "AGENCY_ACTIVE",
    "AGENCY_SUSPENDED",
    "CLIENT_ACTIVE",
    "CLIENT_SUSPENDED",
    "ActionToken",
    "Agency",
    "AuditEvent",
    "Client",
    "Connection",
    "Domain",
    "JobRun",
    "Membership",
    "User",
]
