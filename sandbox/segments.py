"""How many SMS segments a body takes: GSM-7 (160 / 153) or UCS-2 (70 / 67)."""

from __future__ import annotations

from enum import StrEnum

# GSM 03.38 default alphabet (one septet each); ESC (0x1B) itself is not a character.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs two septets (ESC + char).
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE = 160
GSM7_MULTI = 153  # 7 septets of each segment go to the concatenation header
UCS2_SINGLE = 70
UCS2_MULTI = 67


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


def encoding_of(body: str) -> Encoding:
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in body):
        return Encoding.GSM7
    return Encoding.UCS2


def count_segments(body: str) -> int:
    """Segments of a body; an empty body still takes one. An escape pair or surrogate pair is
    never split across two segments, so a boundary character moves to the next one."""
    if encoding_of(body) is Encoding.GSM7:
        units = [2 if char in GSM7_EXTENSION else 1 for char in body]
        single, multi = GSM7_SINGLE, GSM7_MULTI
    else:
        units = [2 if ord(char) > 0xFFFF else 1 for char in body]  # UTF-16 code units
        single, multi = UCS2_SINGLE, UCS2_MULTI
    if sum(units) <= single:
        return 1
    segments, used = 1, 0
    for size in units:
        if used + size > multi:
            segments += 1
            used = 0
        used += size
    return segments
