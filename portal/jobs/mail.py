"""Sending transactional email (reset, invite) through the configured SMTP relay or the capture server."""

from __future__ import annotations

import smtplib
import ssl
from email import message_from_bytes, policy

from flask import current_app

from ..crypto import decrypt_json
from .runner import register


def smtp_send(raw: bytes, mail_from: str, rcpt_to: list[str]) -> None:
    s = current_app.config["PORTAL_SETTINGS"]
    context = ssl.create_default_context()
    if s.smtp_tls == "ssl":
        client = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=30, context=context)
    else:
        client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=30)
    with client:
        if s.smtp_tls == "starttls":
            client.starttls(context=context)
        if s.smtp_user:
            client.login(s.smtp_user, s.smtp_password)
        client.sendmail(mail_from, rcpt_to, raw)


@register("mail.send_transactional")
def send_transactional(sealed: str) -> None:
    """The message is sealed with the app's Fernet keys: it carries a one-time link that must not sit in
    Redis in clear. Building it in the request keeps the link generation next to the token creation."""
    data = decrypt_json(sealed)
    raw = data["raw"].encode("utf-8")
    msg = message_from_bytes(raw, policy=policy.default)
    smtp_send(raw, data["mail_from"], [msg["To"].addresses[0].addr_spec])
