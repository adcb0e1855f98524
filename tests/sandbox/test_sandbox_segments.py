"""Segment counting: GSM-7 160/153 with extension characters counting twice, UCS-2 70/67."""

from __future__ import annotations

import pytest

from sandbox.segments import Encoding, count_segments, encoding_of


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("", 1),
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("a" * 459, 3),
        ("a" * 460, 4),
        ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¡ÄÖÑÜ§¿äöñüà" * 3, 1),
        ("[" * 80, 1),  # 160 septets
        ("[" * 81, 2),  # 162 septets
        ("a" * 159 + "€", 2),  # 161 septets
        ("a" * 158 + "€", 1),  # exactly 160
        # 152 septets then an escape pair: the pair does not split, it opens segment 2.
        ("a" * 152 + "{" + "a" * 10, 2),
        ("a" * 152 + "{" + "a" * 152, 3),
        ("ж" * 70, 1),
        ("ж" * 71, 2),
        ("ж" * 134, 2),
        ("ж" * 135, 3),
        ("a" * 69 + "ж", 1),  # one non-GSM character turns the whole body to UCS-2
        ("a" * 70 + "ж", 2),
        ("😀" * 35, 1),  # 70 UTF-16 code units
        ("😀" * 36, 2),
        ("a" * 68 + "😀", 1),  # 70 units
        ("a" * 69 + "😀", 2),  # 71 units
        # 134 units would fit two segments of 67, but the surrogate pair at 67/68 moves.
        ("a" * 66 + "😀" + "a" * 66, 3),
    ],
)
def test_count_segments(body: str, segments: int) -> None:
    assert count_segments(body) == segments


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        ("Hello {world} ~ | ^ € \\ [ ]", Encoding.GSM7),
        ("Grüße aus Köln", Encoding.GSM7),
        ("ç is not GSM, Ç is", Encoding.UCS2),
        ("tab\tis not GSM-7", Encoding.UCS2),
        ("emoji 🎉", Encoding.UCS2),
    ],
)
def test_encoding(body: str, encoding: Encoding) -> None:
    assert encoding_of(body) is encoding
