"""MailUp's failures as our own exception types, derived from the neutral ones of backends/base.py.

`detail` (the exception's text) may reach an agency or a client through a campaign or job message, so
it never names the provider: it says "the delivery service". What the operator needs to investigate —
the HTTP status, MailUp's ErrorCode / ErrorName / ErrorDescription, the call — is kept on the exception
and in `log_text()`, for logs and the back-office only.

Answers parsed (§13, §14, §2.4; every form the reference shows):
- `{"ErrorCode": "401", "ErrorDescription": "...", "ErrorName": "Unauthorized", "ErrorStack": null}`
  (ErrorCode a string or a number, ErrorName possibly null);
- `{"ErrorDescription": "..."}` alone;
- the token endpoint's OAuth2 `{"error": "invalid_grant", "error_description": "..."}`;
- the same names as XML elements (an `application/xml` answer);
- anything else (an HTML error page, plain text, an empty body): the status alone, the text kept short.
403 means three things (§14): the old rate-limit answer ("too_many_requests"), terms of service not
accepted ("Contract not signed"), or an operation outside the user's scope; the description tells them
apart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..base import BackendError, BackendUnavailable

_XML_FIELD = r"<{0}[^>]*>\s*(.*?)\s*</{0}>"


@dataclass(frozen=True)
class ErrorInfo:
    code: str = ""
    name: str = ""
    description: str = ""


class MailupError(BackendError):
    """An answer of the email service the caller cannot use as it is."""

    def __init__(
        self,
        detail: str,
        *,
        status: int = 0,
        info: ErrorInfo | None = None,
        call: str = "",
        retry_after: float | None = None,
    ):
        super().__init__(detail)
        info = info or ErrorInfo()
        self.status, self.code, self.name, self.description = status, info.code, info.name, info.description
        self.call, self.retry_after = call, retry_after

    def log_text(self) -> str:
        """Everything known, for the operator's logs (never shown below the back-office)."""
        parts = [self.call or "call", f"HTTP {self.status}" if self.status else "no HTTP answer"]
        if self.code:
            parts.append(f"code={self.code}")
        if self.name:
            parts.append(f"name={self.name}")
        if self.description:
            parts.append(f"description={self.description!r}")
        return f"{type(self).__name__}: " + " ".join(parts)


class MailupRequestRefused(MailupError):
    """The request itself was refused (400, 409, …): bad data or a state that does not allow it."""


class MailupNotFound(MailupRequestRefused):
    """The list, group, message, recipient or import does not exist (404)."""


class MailupBadAnswer(MailupError):
    """A 2xx answer that is not what the call returns (not JSON, a missing key)."""


class MailupUnavailable(MailupError, BackendUnavailable):
    """The service as a whole: unreachable, too slow, failing, rate limiting, refusing our credentials.
    Nothing is wrong with any recipient; the work pauses and resumes later."""


class MailupTimeout(MailupUnavailable):
    """No answer within the connect or read timeout."""


class MailupRateLimited(MailupUnavailable):
    """429 (or the older 403 "too_many_requests") after every retry; `retry_after` when it was given."""


class MailupAuthError(MailupUnavailable):
    """The token endpoint refused the credentials, or a fresh token was refused too."""


class MailupTermsNotAccepted(MailupAuthError):
    """403 "Contract not signed": someone must log in to the account's console and accept the terms."""


class MailupForbidden(MailupUnavailable):
    """403: the operation is outside what the account's user may do."""


class MailupOutcomeUnknown(MailupUnavailable):
    """A call that must not be repeated blindly (create, send) lost its answer or got a 5xx: it may or may
    not have happened. The caller checks (groups, messages, sendings) before trying again."""


def parse_error(status: int, body: bytes | str | None) -> ErrorInfo:
    """MailUp's error fields from any of the answer shapes listed in the module docstring."""
    text = (body.decode("utf-8", "replace") if isinstance(body, bytes) else body or "").strip()
    if not text:
        return ErrorInfo(code=str(status) if status else "")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        code = data.get("ErrorCode", data.get("error"))
        description = data.get("ErrorDescription", data.get("error_description"))
        return ErrorInfo(
            code="" if code is None else str(code),
            name=str(data.get("ErrorName") or ""),
            description=str(description or ""),
        )
    found = {
        key: m.group(1)
        for key in ("ErrorCode", "ErrorDescription", "ErrorName")
        if (m := re.search(_XML_FIELD.format(key), text, re.S | re.I))
    }
    if found:
        return ErrorInfo(
            found.get("ErrorCode", ""), found.get("ErrorName", ""), found.get("ErrorDescription", "")
        )
    return ErrorInfo(description=" ".join(re.sub(r"<[^>]+>", " ", text).split())[:300])


def is_rate_limit(status: int, info: ErrorInfo) -> bool:
    if status == 429:
        return True
    text = f"{info.code} {info.description}".lower()
    return status == 403 and ("too_many_requests" in text or "too many requests" in text)


def error_for(
    status: int, info: ErrorInfo, *, call: str = "", retry_after: float | None = None
) -> MailupError:
    """The exception for a final, unusable answer."""
    kw = {"status": status, "info": info, "call": call, "retry_after": retry_after}
    if is_rate_limit(status, info):
        return MailupRateLimited(f"the delivery service is limiting the request rate ({status})", **kw)
    if status == 401:
        return MailupAuthError("the delivery service refused the connection's credentials", **kw)
    if status == 403:
        if "contract" in info.description.lower():
            return MailupTermsNotAccepted(
                "the delivery service account must accept its terms of service before it can be used", **kw
            )
        return MailupForbidden(f"the delivery service does not allow this operation ({status})", **kw)
    if status == 404:
        return MailupNotFound(f"the delivery service does not know this item ({status})", **kw)
    if status >= 500:
        return MailupUnavailable(f"the delivery service is unavailable ({status})", **kw)
    return MailupRequestRefused(f"the delivery service refused the request ({status})", **kw)


def outcome_unknown(
    status: int = 0, info: ErrorInfo | None = None, *, call: str = "", why: str = ""
) -> MailupOutcomeUnknown:
    reason = f" ({status})" if status else f" ({why})" if why else ""
    return MailupOutcomeUnknown(
        f"the delivery service did not confirm the request{reason}; it may have been carried out",
        status=status,
        info=info,
        call=call,
    )
