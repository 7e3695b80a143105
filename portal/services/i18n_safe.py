"""`gettext` for services that also run outside a request (jobs, CLI): there, messages stay in English."""

from __future__ import annotations

from flask import has_request_context
from flask_babel import gettext


def _(message: str, **values) -> str:
    if has_request_context():
        return gettext(message, **values)
    return message % values if values else message
