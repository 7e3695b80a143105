"""Translated labels for suppression reasons, channels and sources, shared by the client, agency and
admin pages (stored values stay English keys)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

REASON_LABELS = {
    "unsubscribe": _l("Unsubscribed"),
    "list_unsubscribe": _l("One-click unsubscribe"),
    "hard_bounce": _l("Hard bounce"),
    "soft_bounce_limit": _l("Repeated soft bounces"),
    "complaint": _l("Spam complaint"),
    "manual": _l("Added by hand"),
    "invalid": _l("Invalid address"),
}
BLOCK_REASON_LABELS = {
    "abuse": _l("Abuse"),
    "legal": _l("Legal request"),
    "manual": _l("Other"),
}
CHANNEL_LABELS = {"email": _l("Email"), "sms": _l("SMS")}
SOURCE_LABELS = {
    "manual": _l("By hand"),
    "import": _l("Import"),
    "form": _l("Form"),
    "api": _l("API"),
    "bounce": _l("Bounce"),
    "complaint": _l("Complaint"),
    "unsubscribe": _l("Unsubscribe link"),
    "campaign": _l("Campaign"),
    # what recipients, providers and the previous account tell us (portal/services/events.py & co.)
    "one-click": _l("One-click unsubscribe"),
    "mailto": _l("Unsubscribe by email"),
    "preferences": _l("Preferences page"),
    "email-api": _l("Delivery provider"),
    "email-api-callback": _l("Delivery provider"),
    "previous account": _l("Previous provider account"),
    "sms-reply": _l("STOP reply"),
}


def reason_label(reason: str) -> str:
    return str(REASON_LABELS.get(reason) or BLOCK_REASON_LABELS.get(reason) or reason)


def source_label(source: str) -> str:
    """Unknown sources show as stored, except provider names: white-label pages never name the provider."""
    if source in SOURCE_LABELS:
        return str(SOURCE_LABELS[source])
    if "mailup" in (source or "").lower():
        return str(_l("Delivery provider"))
    return source


def export_source(source: str) -> str:
    return "provider" if "mailup" in (source or "").lower() else source


def channel_label(channel: str) -> str:
    return str(CHANNEL_LABELS.get(channel, channel))


HELPERS = {"reason_label": reason_label, "source_label": source_label, "channel_label": channel_label}
