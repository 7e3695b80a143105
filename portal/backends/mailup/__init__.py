"""MailUp: the REST client the portal talks through, and a local emulator of the API for tests and
development (emulator/). Facts of the API: ../shared/reference/mailup-api.md (§ numbers in comments).

config.py         MailupConfig: credentials, the REST bases (real hosts by default), rate, timeouts, retries
client.py         MailupClient: every typed call below on one object
console.py        account info and "test credentials", lists, groups, personal fields, subscribe, imports,
                  opt-outs
emails.py         messages, sends (group, list, one address; now or scheduled), the sending queues
statistics.py     per-message deliveries, views, clicks (per URL too), bounces, unsubscriptions, counts
frontend.py       the legacy xml*.aspx pages on the account's console host
api.py            the core of every call: bearer token, one renewal on 401, decoding, paged collections
auth.py           password and refresh grants, the token shared in Redis and renewed before it expires
transport.py      the shared rate limit, timeouts, retries with backoff and jitter on 429 and 5xx
paging.py         walking Items / TotalElementsCount pages; filterby / orderby expressions
errors.py         our exception types (neutral `detail`, MailUp's codes kept for the operator)
records.py        the plain dataclasses of console calls (account, lists, groups, recipients, imports)
email_records.py  those of messages, sends and statistics rows
values.py         reading loosely typed values and MailUp's date formats
"""

from .client import MailupClient
from .config import MailupConfig
from .email_records import EmailDraft, Message, Sending, SendResult, StatRow
from .errors import (
    MailupAuthError,
    MailupBadAnswer,
    MailupError,
    MailupForbidden,
    MailupNotFound,
    MailupOutcomeUnknown,
    MailupRateLimited,
    MailupRequestRefused,
    MailupTermsNotAccepted,
    MailupTimeout,
    MailupUnavailable,
)
from .records import AccountInfo, DynamicField, Group, ImportStatus, MailList, NewList, Optin, Recipient

__all__ = [
    "AccountInfo",
    "DynamicField",
    "EmailDraft",
    "Group",
    "ImportStatus",
    "MailList",
    "MailupAuthError",
    "MailupBadAnswer",
    "MailupClient",
    "MailupConfig",
    "MailupError",
    "MailupForbidden",
    "MailupNotFound",
    "MailupOutcomeUnknown",
    "MailupRateLimited",
    "MailupRequestRefused",
    "MailupTermsNotAccepted",
    "MailupTimeout",
    "MailupUnavailable",
    "Message",
    "NewList",
    "Optin",
    "Recipient",
    "SendResult",
    "Sending",
    "StatRow",
]
