"""Twilio's v1 paging (`meta` block, absolute URLs, `PageToken=PA<sid>` / `PB<sid>`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar
from urllib.parse import urlencode

import msgspec

from sandbox.errors import TwilioError

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


class PageMeta(msgspec.Struct):
    page: int
    page_size: int
    first_page_url: str
    previous_page_url: str | None
    url: str
    next_page_url: str | None
    key: str


def _int(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise TwilioError(20001, f"Invalid {name}: {raw}") from None


def page_of(
    items: Sequence[T],
    sid_of: Callable[[T], str],
    *,
    url: str,
    key: str,
    page_size: str | None,
    page: str | None,
    page_token: str | None,
    filters: Sequence[tuple[str, str]] = (),
) -> tuple[list[T], PageMeta]:
    """One page of `items` (already in list order) and its `meta`."""
    size = min(max(_int(page_size, "PageSize", DEFAULT_PAGE_SIZE), 1), MAX_PAGE_SIZE)
    number = max(_int(page, "Page", 0), 0)
    start = number * size
    token = page_token or ""
    if token[:2] in ("PA", "PB"):
        positions = {sid_of(item): index for index, item in enumerate(items)}
        if token[2:] in positions:
            anchor = positions[token[2:]]
            start = anchor + 1 if token.startswith("PA") else max(anchor - size, 0)
    chunk = list(items[start : start + size])

    def link(page_number: int, link_token: str | None = None) -> str:
        params = [*filters, ("PageSize", str(size)), ("Page", str(page_number))]
        if link_token:
            params.append(("PageToken", link_token))
        return f"{url}?{urlencode(params)}"

    has_next = bool(chunk) and start + len(chunk) < len(items)
    has_previous = bool(chunk) and start > 0
    meta = PageMeta(
        page=number,
        page_size=size,
        first_page_url=link(0),
        previous_page_url=link(max(number - 1, 0), f"PB{sid_of(chunk[0])}")
        if has_previous
        else None,
        url=link(number, page_token),
        next_page_url=link(number + 1, f"PA{sid_of(chunk[-1])}") if has_next else None,
        key=key,
    )
    return chunk, meta
