"""The service's segment counter (pacing, the dry run, attempts' segments) counts exactly as
the provider does. The sandbox's counter stands for the provider and must stay standalone, so
the two are separate modules; this test holds them together."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sandbox import segments as provider
from service.messages.segments import SegmentCount, count_segments, message_segments

GSM7_BASIC = sorted(provider.GSM7_BASIC)
GSM7_EXTENSION = sorted(provider.GSM7_EXTENSION)  # two septets each
BMP_NOT_GSM = ["ж", "ç", "中", "\t", "ё", "ω", "—", "\u2019", "\u00a0"]  # one UTF-16 unit each
ASTRAL = ["😀", "🎉", "𝄞", "🇺", "\U0010ffff"]  # surrogate pairs: two UTF-16 units each

# Lengths around the single-segment limits and the first multi-segment boundaries.
BOUNDARIES = [0, 1, 66, 67, 68, 69, 70, 71, 72, 133, 134, 135, 152, 153, 154, 159, 160, 161, 162]
BOUNDARIES += [201, 202, 305, 306, 307, 308, 459, 460]


def provider_count(text: str) -> SegmentCount:
    return SegmentCount(provider.encoding_of(text).value, provider.count_segments(text))


@st.composite
def texts(draw: st.DrawFn) -> str:
    """Texts of one or more character classes, mostly of lengths near a boundary."""
    classes = draw(
        st.lists(
            st.sampled_from([GSM7_BASIC, GSM7_EXTENSION, BMP_NOT_GSM, ASTRAL]),
            min_size=1,
            max_size=4,
            unique_by=id,
        )
    )
    length = draw(
        st.one_of(
            st.sampled_from(BOUNDARIES),
            st.sampled_from(BOUNDARIES).map(lambda n: n // 2),  # two-unit characters
            st.integers(min_value=0, max_value=500),
        )
    )
    # A repeated pattern of the first class (e.g. plain GSM-7), with a few characters of any
    # of the classes put in (an escape pair, a non-GSM character, an emoji).
    pattern = draw(st.lists(st.sampled_from(classes[0]), min_size=1, max_size=6))
    chars = (pattern * (length // len(pattern) + 1))[:length]
    if length:
        any_class = st.sampled_from([char for chars in classes for char in chars])
        put = st.tuples(st.integers(min_value=0, max_value=length - 1), any_class)
        for position, char in draw(st.lists(put, max_size=6)):
            chars[position] = char
    return "".join(chars)


@settings(max_examples=1000, database=None, deadline=None)
@given(texts())
@example("a" * 152 + "€" + "a" * 152)
@example("ж" * 66 + "😀" + "ж" * 66)
@example("")
def test_counts_as_the_provider_on_generated_texts(text: str) -> None:
    assert count_segments(text) == provider_count(text)


@settings(max_examples=500, database=None, deadline=None)
@given(st.text(max_size=400))
def test_counts_as_the_provider_on_any_text(text: str) -> None:
    assert count_segments(text) == provider_count(text)


@pytest.mark.parametrize(
    ("filler", "pair"),
    [("a", "€"), ("a", "{"), ("ж", "😀"), ("a", "😀"), ("€", "😀")],
)
def test_counts_as_the_provider_wherever_a_two_unit_character_stands(
    filler: str, pair: str
) -> None:
    """Every position of an escape pair or a surrogate pair in texts around the limits."""
    for length in (*range(60, 75), *range(128, 140), *range(150, 165), *range(300, 312)):
        for position in range(length + 1):
            text = filler * position + pair + filler * (length - position)
            assert count_segments(text) == provider_count(text), (filler, pair, length, position)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # An escape pair at 152/153 septets does not split: it opens segment 2, and the
        # 152 characters after it need a third (the old counter said 2).
        ("a" * 152 + "€" + "a" * 152, SegmentCount("GSM-7", 3)),
        ("a" * 152 + "€" + "a" * 151, SegmentCount("GSM-7", 2)),
        ("a" * 151 + "€" + "a" * 153, SegmentCount("GSM-7", 2)),
        # A surrogate pair at 66/67 code units moves whole to segment 2.
        ("ж" * 66 + "😀" + "ж" * 66, SegmentCount("UCS-2", 3)),
        ("ж" * 65 + "😀" + "ж" * 67, SegmentCount("UCS-2", 2)),
        ("a" * 66 + "😀" + "a" * 66, SegmentCount("UCS-2", 3)),
        # Empty text: one segment, as the provider counts it.
        ("", SegmentCount("GSM-7", 1)),
        ("a" * 160, SegmentCount("GSM-7", 1)),
        ("a" * 161, SegmentCount("GSM-7", 2)),
        ("€" * 80, SegmentCount("GSM-7", 1)),  # 160 septets
        ("a" * 159 + "€", SegmentCount("GSM-7", 2)),  # 161 septets
        ("a" * 306, SegmentCount("GSM-7", 2)),
        ("a" * 307, SegmentCount("GSM-7", 3)),
        ("ж" * 70, SegmentCount("UCS-2", 1)),
        ("ж" * 71, SegmentCount("UCS-2", 2)),
        ("a" * 69 + "ж", SegmentCount("UCS-2", 1)),
        ("😀" * 35, SegmentCount("UCS-2", 1)),  # 70 code units
        ("a" * 69 + "😀", SegmentCount("UCS-2", 2)),  # 71 code units
        ("ж" * 134, SegmentCount("UCS-2", 2)),
        ("ж" * 135, SegmentCount("UCS-2", 3)),
    ],
)
def test_edge_cases(text: str, expected: SegmentCount) -> None:
    assert count_segments(text) == expected
    assert provider_count(text) == expected


def test_message_segments_by_channel() -> None:
    long_text = "a" * 152 + "€" + "a" * 152
    assert message_segments(None, "SMS", with_media=False) is None
    assert message_segments("", "SMS", with_media=False) == SegmentCount("GSM-7", 1)
    assert message_segments(long_text, "SMS", with_media=False) == SegmentCount("GSM-7", 3)
    # MMS, WhatsApp and Conversations messages are one, whatever the length.
    assert message_segments(long_text, "SMS", with_media=True) == SegmentCount("GSM-7", 1)
    assert message_segments("ж" * 200, "WHATSAPP", with_media=False) == SegmentCount("UCS-2", 1)
    assert message_segments(long_text, "CONVERSATIONS", with_media=False) == SegmentCount(
        "GSM-7", 1
    )
