"""The local SMTP capture server's outbox: what the platform "sent" in development and tests."""

from __future__ import annotations

from flask import abort, current_app, render_template

from ..embedded.outbox import list_messages, read_message
from . import bp


def _capture_dir():
    return current_app.config["PORTAL_SETTINGS"].capture_dir


@bp.route("/outbox")
def outbox_list():
    return render_template("admin/outbox/list.html", messages=list_messages(_capture_dir()))


@bp.route("/outbox/<message_id>")
def outbox_message(message_id: str):
    try:
        headers, text, html, raw = read_message(_capture_dir(), message_id)
    except KeyError:
        abort(404)
    subject = next((value for name, value in headers if name.lower() == "subject"), "")
    return render_template(
        "admin/outbox/message.html",
        message_id=message_id,
        subject=subject,
        headers=headers,
        text=text,
        html=html,
        raw=raw.decode("utf-8", "replace"),
    )
