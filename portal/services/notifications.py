"""Transactional email (password reset, invitation) in the agency's brand, sent after commit."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid

from flask import current_app, render_template
from flask_babel import force_locale

from ..crypto import encrypt_json
from ..extensions import db
from ..jobs import QUEUE_MAIL
from ..jobs.queueing import PendingJob, enqueue_after_commit
from ..models import Agency, User
from ..templating import PLATFORM_BRAND, Brand


def _brand_for(agency: Agency | None) -> Brand:
    if agency is None:
        return PLATFORM_BRAND
    return Brand(
        agency.name,
        agency.primary_color,
        agency.accent_color,
        agency.footer_text or "",
        agency.support_email or "",
        None,
        None,
    )


def _sender_domain(agency: Agency | None) -> str:
    s = current_app.config["PORTAL_SETTINGS"]
    if agency is None:
        return s.base_domain
    domain = agency.canonical_domain
    return domain.host if domain else s.base_domain


def queue_email(*, agency: Agency | None, user: User, template: str, subject: str, **context) -> None:
    """Render `templates/email/<template>.{txt,html}` in the user's language and queue it."""
    locale = user.locale or (agency.default_locale if agency else "en")
    brand = _brand_for(agency)
    with force_locale(locale):
        text = render_template(f"email/{template}.txt", brand=brand, user=user, **context)
        html = render_template(f"email/{template}.html", brand=brand, user=user, **context)
    s = current_app.config["PORTAL_SETTINGS"]
    domain = _sender_domain(agency)
    msg = EmailMessage()
    msg["From"] = Address(brand.name, s.mail_from_localpart, domain)
    msg["To"] = Address(user.name or "", addr_spec=user.email)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    if brand.support_email:
        msg["Reply-To"] = brand.support_email
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    queue_message(msg, f"{s.mail_from_localpart}@{domain}")


def queue_message(msg: EmailMessage, mail_from: str) -> None:
    """Queue a built transactional message (sealed: it may carry a one-time link) to go after commit.
    Also used by the double opt-in confirmation email (portal/forms/confirm_mail.py)."""
    # CRLF line ends: smtplib sends bytes as they are, and SMTP servers read lines up to CRLF.
    raw = msg.as_string(policy=SMTP_POLICY)
    sealed = encrypt_json({"raw": raw, "mail_from": mail_from})
    enqueue_after_commit(
        db.session,
        PendingJob(
            name="mail.send_transactional",
            queue=QUEUE_MAIL,
            # RQ job ids allow only letters, digits, "_" and "-"; a Message-ID has "." and "@".
            job_id="mail-" + re.sub(r"[^A-Za-z0-9_-]", "-", msg["Message-ID"].strip("<>")),
            kwargs={"sealed": sealed},
            timeout=60,
            retries=3,
        ),
    )


# Public names for other transactional mail in the agency's brand (the double opt-in confirmation).
brand_for = _brand_for
sender_domain = _sender_domain
