"""Cutting an import body into rows as its chunks arrive: line ends, blank lines, CSV quotes
over line ends, rows over the limit; the same rows whatever the chunk boundaries."""

from __future__ import annotations

import pytest

from service.profiles.imports import MAX_ROW_BYTES, Row, Splitter


def split(chunks: list[bytes], csv_quoting: bool) -> list[Row]:
    splitter = Splitter(csv_quoting)
    rows: list[Row] = []
    for chunk in chunks:
        rows += splitter.feed(chunk)
    return rows + splitter.end()


def every_cut(body: bytes) -> list[list[bytes]]:
    """The body whole, byte by byte, and cut at every position in two."""
    cuts = [[body], [body[i : i + 1] for i in range(len(body))]]
    cuts += [[body[:i], body[i:]] for i in range(1, len(body))]
    return cuts


NDJSON = b'{"a": 1}\r\n\n  \n{"b": 2}\n{"c": 3}'
CSV = b'h1,h2\r\nx,"multi\r\nline, ""quoted"""\r\n\r\ny,z\n"open\nstill"'


@pytest.mark.parametrize("chunks", every_cut(NDJSON))
def test_ndjson_rows_are_numbered_by_line_and_blank_lines_skipped(chunks: list[bytes]) -> None:
    rows = split(chunks, csv_quoting=False)
    # A trailing \r stays on an NDJSON row in the middle of a chunk (JSON whitespace); strip
    # it to compare.
    assert [(n, (line or b"").rstrip(b"\r")) for n, line in rows] == [
        (1, b'{"a": 1}'),
        (4, b'{"b": 2}'),
        (5, b'{"c": 3}'),
    ]


@pytest.mark.parametrize("chunks", every_cut(CSV))
def test_csv_rows_go_on_over_line_ends_inside_quotes(chunks: list[bytes]) -> None:
    assert split(chunks, csv_quoting=True) == [
        (1, b"h1,h2"),
        (2, b'x,"multi\nline, ""quoted"""'),
        (5, b"y,z"),
        (6, b'"open\nstill"'),
    ]


@pytest.mark.parametrize("csv_quoting", [False, True])
def test_a_row_over_the_limit_is_none_and_never_held(csv_quoting: bool) -> None:
    long = b"x" * (MAX_ROW_BYTES + 1)
    chunks = [b"first\n", long[:1000], long[1000:], b"\nlast\n", long, b'\n"a\n', long, b'"\nend']
    rows = split(chunks, csv_quoting)
    if csv_quoting:
        assert rows == [(1, b"first"), (2, None), (3, b"last"), (4, None), (5, None), (7, b"end")]
    else:
        assert rows == [
            (1, b"first"),
            (2, None),
            (3, b"last"),
            (4, None),
            (5, b'"a'),
            (6, None),
            (7, b"end"),
        ]
    splitter = Splitter(csv_quoting)
    splitter.feed(long * 3)
    assert len(splitter.pending) <= MAX_ROW_BYTES
