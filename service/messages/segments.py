"""How many SMS segments a text costs: GSM-7 160/153 characters, UCS-2 70/67 code units."""

from __future__ import annotations

from typing import Literal

import msgspec

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Characters of the GSM-7 extension table cost two septets (escape + character).
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

Encoding = Literal["GSM-7", "UCS-2"]


class SegmentCount(msgspec.Struct, frozen=True):
    encoding: Encoding
    segments: int


def count_segments(text: str) -> SegmentCount:
    septets = 0
    for char in text:
        if char in _GSM7_BASIC:
            septets += 1
        elif char in _GSM7_EXTENDED:
            septets += 2
        else:
            return _ucs2(text)
    if septets <= 160:
        return SegmentCount("GSM-7", 1 if septets else 0)
    return SegmentCount("GSM-7", -(-septets // 153))


def _ucs2(text: str) -> SegmentCount:
    # UCS-2 counts UTF-16 code units: characters outside the BMP (emoji) take two.
    units = len(text.encode("utf-16-le")) // 2
    if units <= 70:
        return SegmentCount("UCS-2", 1)
    return SegmentCount("UCS-2", -(-units // 67))


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
