"""Opaque keyset page tokens.

A token is base64url JSON `{"v": 1, "after": <uuid hex or null>}`: the page holds the rows older
than `after` (lists are newest first and ids are time-ordered), so rows arriving meanwhile never
shift a page.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from typing import TypeVar

import msgspec

from service.errors import InvalidPageToken

T = TypeVar("T")


class _Token(msgspec.Struct, frozen=True):
    v: int
    after: str | None


def encode_token(after: uuid.UUID | None) -> str:
    raw = msgspec.json.encode(_Token(1, after.hex if after else None))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_token(token: str | None) -> uuid.UUID | None:
    """The keyset position a token stands for; None for the first page."""
    if token is None:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        parsed = msgspec.json.decode(base64.urlsafe_b64decode(padded), type=_Token)
        if parsed.v != 1:
            raise InvalidPageToken(context="$.pageToken")
        return uuid.UUID(hex=parsed.after) if parsed.after else None
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise InvalidPageToken(context="$.pageToken") from exc


def trim_page(
    rows: list[T], page_size: int, start: uuid.UUID | None, key: Callable[[T], uuid.UUID]
) -> tuple[list[T], str | None, str]:
    """Trim the one extra row fetched; return the page, the next token and the self token."""
    page = rows[:page_size]
    next_token = encode_token(key(page[-1])) if len(rows) > page_size else None
    return page, next_token, encode_token(start)
