"""Pieces shared by several wire contracts."""

from __future__ import annotations

from typing import Annotated

import msgspec

Tags = dict[str, str]

PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 1000

PageSize = Annotated[
    int, msgspec.Meta(ge=1, le=PAGE_SIZE_MAX, description="Items per page, 1..1000 (default 50).")
]


class Pagination(msgspec.Struct):
    """Opaque keyset cursors: pass either back as `pageToken`."""

    next: str | None
    self: str


class Related(msgspec.Struct):
    name: str
    id: str
    uri: str
