"""How many SMS segments a text costs: GSM-7 160/153 septets, UCS-2 70/67 UTF-16 code units.

It must count as the provider does (sandbox/segments.py stands for it and cannot be imported
here: tests/service/messages/test_segments.py holds the two together). A multi-part message
never splits an escape pair (a GSM-7 extension character: ESC + character, two septets) nor
a surrogate pair (a character outside the BMP, e.g. an emoji: two code units) across two
segments: such a character that does not fit whole moves to the next segment.
"""

from __future__ import annotations

from typing import Literal

import msgspec

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Characters of the GSM-7 extension table cost two septets (escape + character).
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE = 160
GSM7_MULTI = 153  # 7 septets of each segment go to the concatenation header
UCS2_SINGLE = 70
UCS2_MULTI = 67  # 3 code units of each segment go to the concatenation header

Encoding = Literal["GSM-7", "UCS-2"]


class SegmentCount(msgspec.Struct, frozen=True):
    encoding: Encoding
    segments: int


def count_segments(text: str) -> SegmentCount:
    """The encoding and segments of a text; an empty text still takes one segment."""
    sizes: list[int] = []
    for char in text:
        if char in _GSM7_BASIC:
            sizes.append(1)
        elif char in _GSM7_EXTENDED:
            sizes.append(2)
        else:
            return SegmentCount("UCS-2", _packed(_utf16_units(text), UCS2_SINGLE, UCS2_MULTI))
    return SegmentCount("GSM-7", _packed(sizes, GSM7_SINGLE, GSM7_MULTI))


def _utf16_units(text: str) -> list[int]:
    # A character outside the BMP is a surrogate pair: two code units.
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def _packed(sizes: list[int], single: int, multi: int) -> int:
    """Segments holding characters of these sizes, in order: one when all fit in a single
    segment, else `multi`-sized parts where no character is split between two."""
    if sum(sizes) <= single:
        return 1
    segments, used = 1, 0
    for size in sizes:
        if used + size > multi:
            segments += 1
            used = 0
        used += size
    return segments


def message_segments(text: str | None, channel: str, *, with_media: bool) -> SegmentCount | None:
    """What one message costs on its sender's channel; None without text.

    SMS counts segments; WhatsApp, Conversations and MMS messages are one, whatever the length.
    """
    if text is None:
        return None
    counted = count_segments(text)
    if channel != "SMS" or with_media:
        return SegmentCount(counted.encoding, 1)
    return counted
