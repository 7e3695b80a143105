"""Locale choice: the user's own language, else the choice made on the login page, else the agency default."""

from __future__ import annotations

from flask import g, session
from flask_login import current_user

LANGUAGES = {"en": "English", "it": "Italiano"}


def select_locale() -> str:
    if current_user and current_user.is_authenticated and current_user.locale in LANGUAGES:
        return current_user.locale
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    agency = g.get("agency")
    if agency is not None and agency.default_locale in LANGUAGES:
        return agency.default_locale
    return "en"
