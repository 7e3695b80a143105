"""Email and phone normalisation for imports, forms and the API.

Email: `email-validator` is the reference, but it checks about 26,000 addresses/s. Nearly every real
address is plain ASCII dot-atom, so a strict fast path handles those: it accepts only a subset of what
email-validator accepts and produces the same normalised form (tests/test_addresses.py proves both on
generated inputs). Everything else goes to email-validator.
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

_ATEXT = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# Local part: dot-atom, no leading/trailing/double dots. Domain: at least two labels, alphabetic TLD.
_FAST = re.compile(rf"^{_ATEXT}+(?:\.{_ATEXT}+)*@(?:{_LABEL}\.)+[a-z]{{2,63}}$")
# email-validator's special-use names are all single labels: checking the last label is enough.
_SPECIAL = frozenset(SPECIAL_USE_DOMAIN_NAMES)
assert all("." not in name for name in _SPECIAL), "special-use names changed shape; revisit _fast_ok"


class InvalidAddress(ValueError):
    """The message says what is wrong, fit for an error report."""


def normalise_email(raw: str) -> str:
    """Lower-cased, IDNA-decoded address, or InvalidAddress with the reason."""
    candidate = raw.strip()
    if not candidate:
        raise InvalidAddress("empty email address")
    lowered = candidate.lower()
    if len(lowered) <= 254 and _FAST.match(lowered) and _fast_ok(lowered):
        return lowered
    try:
        info = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from exc
    return info.normalized.lower()


def _fast_ok(address: str) -> bool:
    local, _, domain = address.rpartition("@")
    if len(local) > 64 or len(domain) > 253:
        return False
    if "xn--" in domain:
        return False  # punycode: let email-validator decode and check it
    return domain[domain.rfind(".") + 1 :] not in _SPECIAL


_PARSE_REASONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "invalid country code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not a number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}


def _parse_reason(exc: phonenumbers.NumberParseException) -> str:
    """phonenumbers gives the reason as a plain int (not an enum member with a name)."""
    return _PARSE_REASONS.get(exc.error_type, "unreadable")


def normalise_phone(raw: str, default_region: str) -> str:
    """E.164 form (`+393471234567`) or InvalidAddress. `00` international prefixes are understood."""
    candidate = raw.strip().removeprefix("'")  # our exports quote cells starting with "+" against formulas
    if not candidate:
        raise InvalidAddress("empty phone number")
    if any(ch.isalpha() for ch in candidate):
        # libphonenumber would read letters as a keypad (vanity numbers); E.164 has none (§6.2).
        raise InvalidAddress("a phone number cannot contain letters")
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    try:
        number = phonenumbers.parse(candidate, default_region.upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidAddress(f"not a phone number ({_parse_reason(exc)})") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidAddress("not a valid phone number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
