"""Recipient addresses as they go on the wire.

Contacts are stored with their domain in Unicode (`anna@bücher.de`, what people type and read). SMTP
without extensions carries ASCII only: an internationalised domain travels as its A-label
(`anna@xn--bcher-kva.de`, IDNA 2008 with UTS #46 mapping, RFC 5891), which every relay accepts. A
non-ASCII local part has no ASCII form at all: it needs a relay that offers SMTPUTF8 (RFC 6531), else
the message cannot be sent to that address.
"""

from __future__ import annotations

from dataclasses import dataclass

import idna


class UndeliverableAddress(ValueError):
    """The address has no form this path can carry; the message says why, for the per-recipient report."""


@dataclass(frozen=True)
class WireAddress:
    address: str  # what goes into RCPT TO and the To: header
    utf8: bool  # True: the local part is non-ASCII and needs SMTPUTF8


def wire_address(address: str) -> WireAddress:
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise UndeliverableAddress(f"'{address}' is not an email address")
    if not domain.isascii():
        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise UndeliverableAddress(
                f"the domain of '{address}' is not a valid international name"
            ) from exc
    return WireAddress(f"{local}@{domain}", utf8=not local.isascii())
