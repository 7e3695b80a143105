"""Why a recipient left, in the portal's suppression reasons (DESIGN.md §5), from the provider's opt-out
details (reference §19). The provider does not publish what its `Optout_Type` / `Optout_Subtype` numbers
mean (§21); these are the numbers its emulator writes (emulator/model.py OPTOUT_*, emulator/prefill.py
for the bounce subtypes). An unknown number is still an opt-out: it becomes an unsubscribe, so nobody
who left receives mail again, whatever the reason."""

from __future__ import annotations

from ..providers.suppress import STATUS

OPTOUT_ADMIN, OPTOUT_LINK, OPTOUT_BOUNCE, OPTOUT_COMPLAINT = 1, 2, 3, 4
SUBTYPE_SOFT_LIMIT = 2
# When one address left several lists for different reasons, the entry keeps the gravest.
GRAVITY = ("complaint", "hard_bounce", "soft_bounce_limit", "unsubscribe", "manual")
NOTES = {
    "manual": "unsubscribed in the previous account by an administrator or an import",
    "unsubscribe": "unsubscribed in the previous account",
    "hard_bounce": "hard bounce in the previous account",
    "soft_bounce_limit": "too many soft bounces in the previous account",
    "complaint": "spam complaint in the previous account",
}
SOURCE = "previous account"


def reason_of(optout_type: int | None, subtype: int | None) -> str:
    if optout_type == OPTOUT_COMPLAINT:
        return "complaint"
    if optout_type == OPTOUT_BOUNCE:
        return "soft_bounce_limit" if subtype == SUBTYPE_SOFT_LIMIT else "hard_bounce"
    if optout_type == OPTOUT_ADMIN:
        return "manual"
    return "unsubscribe"


def graver(a: str | None, b: str) -> str:
    return b if a is None or GRAVITY.index(b) < GRAVITY.index(a) else a


def subscription_status(status: str, optout_type: int | None, subtype: int | None) -> str:
    """The portal's subscription status for a record: bounced and complained where that is why it left."""
    if status != "unsubscribed":
        return status
    return STATUS.get(reason_of(optout_type, subtype), "unsubscribed")
