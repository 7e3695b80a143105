"""Public endpoints on the agency's domain that recipients reach from campaign email (no login): one-click
unsubscribe, preferences, open pixel, click redirect, view in browser, library images."""

from flask import Blueprint

bp = Blueprint("mailpublic", __name__)

from . import views  # noqa: E402,F401
