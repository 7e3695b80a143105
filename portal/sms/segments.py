"""How many SMS segments a text costs: the one source of truth for the server, the browser and the ledger.

3GPP TS 23.038 / 23.040 as summarised in email-sms-standards.md §5: a text made only of the GSM 03.38
default alphabet and its extension table travels in 7-bit septets (160 alone, 153 per concatenated
segment; an extension character is ESC + character, two septets that never straddle a segment boundary);
any other character switches the whole text to UCS-2 (70 alone, 67 per segment, counted in UTF-16 code
units; a surrogate pair never straddles). Segments are filled greedily, so a plain ceil(units / 153)
undercounts. The browser asks the server (sms.count endpoint) instead of re-implementing this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# The default alphabet (0x1B, the escape itself, is not a character a person types).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs ESC + character.
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}


@dataclass(frozen=True)
class SmsCount:
    encoding: str
    characters: int  # what a person counts: code points
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    # Distinct characters that forced UCS-2, in order of first appearance (empty for GSM-7).
    non_gsm: tuple[str, ...] = field(default_factory=tuple)

    @property
    def per_segment(self) -> int:
        single, multi = LIMITS[self.encoding]
        return single if self.segments <= 1 else multi

    def as_dict(self) -> dict:
        return {
            "encoding": self.encoding,
            "characters": self.characters,
            "units": self.units,
            "segments": self.segments,
            "per_segment": self.per_segment,
            "non_gsm": list(self.non_gsm),
        }


def _is_gsm(ch: str) -> bool:
    return ch in GSM_BASIC or ch in GSM_EXTENSION


def _units(text: str, encoding: str) -> list[int]:
    """The cost of each character in its encoding's unit; an indivisible group per character."""
    if encoding == GSM7:
        return [2 if ch in GSM_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _fill(units: list[int], per_segment: int) -> int:
    """Greedy filling: a group that does not fit in what is left of a segment moves whole to the next."""
    segments, used = 1, 0
    for u in units:
        if used + u > per_segment:
            segments, used = segments + 1, 0
        used += u
    return segments


def count(text: str) -> SmsCount:
    """Encoding, characters, units and segments of one message text (as it will be sent)."""
    non_gsm = tuple(dict.fromkeys(ch for ch in text if not _is_gsm(ch)))
    encoding = UCS2 if non_gsm else GSM7
    units = _units(text, encoding)
    total = sum(units)
    single, multi = LIMITS[encoding]
    if total == 0:
        segments = 0
    elif total <= single:
        segments = 1
    else:
        segments = _fill(units, multi)
    return SmsCount(encoding, len(text), total, segments, non_gsm)
