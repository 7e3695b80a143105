"""The MIME message of one campaign delivery, with every header a bulk sender needs, DKIM-signed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from .dkim import Signer

# No folding of long headers (a folded List-Unsubscribe URL is a classic way to break DKIM); CRLF endings.
WIRE = policy.SMTP.clone(max_line_length=998)
SIGNED_HEADERS = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "mime-version",
    "content-type",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-id",
    "x-send-id",
)


@dataclass(frozen=True)
class Envelope:
    """What is the same for every delivery of one campaign."""

    from_name: str
    from_email: str
    reply_to: str
    list_id: str  # "<client-slug>.<agency domain>"
    list_name: str
    message_domain: str  # the agency's canonical domain: Message-ID right-hand side
    bounce_domain: str


def build(
    env: Envelope,
    *,
    to: str,
    subject: str,
    html: str,
    text: str,
    send_id: str,
    unsubscribe_url: str,
    unsubscribe_mailto: str,
    signer: Signer | None,
) -> bytes:
    msg = EmailMessage(policy=WIRE)
    local, _, domain = env.from_email.rpartition("@")
    msg["From"] = Address(env.from_name, local, domain)
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = f"<{send_id}@{env.message_domain}>"
    if env.reply_to:
        msg["Reply-To"] = env.reply_to
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}>, <mailto:{unsubscribe_mailto}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["List-Id"] = f"{env.list_name} <{env.list_id}>"
    msg["X-Send-Id"] = send_id
    msg["Precedence"] = "bulk"
    msg.set_content(text, cte="quoted-printable")
    if html:
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
    raw = msg.as_bytes(policy=WIRE)
    return signer.sign(raw) if signer is not None else raw
