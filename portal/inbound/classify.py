"""Enhanced status code → hard / soft / policy (email-sms-standards.md §3.2)."""

from __future__ import annotations

HARD_CODES = {"5.1.1", "5.1.2", "5.1.10", "5.4.4", "5.1.3", "5.1.6"}


def classify_status(code: str) -> str:
    """'hard' suppresses at once; 'soft' counts towards the soft-bounce limit; 'policy' is not the address's
    fault (reputation, authentication) and alerts the agency instead."""
    parts = code.strip().split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return "soft"  # unparseable: soft, like listmonk and Mautic
    klass, subject = parts[0], parts[1]
    if subject == "7":
        return "policy"
    if f"{parts[1]}.{parts[2]}" == "2.2":
        return "soft"  # mailbox full is transient even when sent as 5.2.2 (RFC 3463)
    if klass == "5" and (code in HARD_CODES or subject == "1"):
        return "hard"
    if klass == "5" and subject in ("4",) and parts[2] == "4":
        return "hard"
    return "soft"
