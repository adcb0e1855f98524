"""Opaque keyset page tokens.

Two kinds of token live here:

- `encode_token` / `decode_token`: base64url JSON `{"v": 1, "after": <uuid hex or null>}` for
  lists ordered by id alone (newest first; ids are time-ordered).
- `encode_position` / `decode_position`: base64url JSON
  `{"v": 2, "q": <query fingerprint>, "at": <µs since epoch>, "id": <uuid hex>}` for the filtered
  lists ordered by `(created_at DESC, id DESC)`. `at`/`id` are null on a first page's `self`
  token. `q` fingerprints the list and its filters (not the page size): a token used with other
  filters is refused with a 400, because its position means nothing in another result set.

Either way the page holds the rows strictly after the position, so rows arriving meanwhile
(newer, hence before the position) never shift a page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import msgspec

from service.errors import InvalidPageToken

T = TypeVar("T")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CONTEXT = "$.pageToken"


class _Token(msgspec.Struct, frozen=True):
    v: int
    after: str | None


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64decode(token: str) -> bytes:
    padded = token + "=" * (-len(token) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


def encode_token(after: uuid.UUID | None) -> str:
    return _b64encode(msgspec.json.encode(_Token(1, after.hex if after else None)))


def decode_token(token: str | None) -> uuid.UUID | None:
    """The keyset position a token stands for; None for the first page."""
    if token is None:
        return None
    try:
        parsed = msgspec.json.decode(_b64decode(token), type=_Token)
        if parsed.v != 1:
            raise InvalidPageToken(context=_CONTEXT)
        return uuid.UUID(hex=parsed.after) if parsed.after else None
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise InvalidPageToken(context=_CONTEXT) from exc


def trim_page(
    rows: list[T], page_size: int, start: uuid.UUID | None, key: Callable[[T], uuid.UUID]
) -> tuple[list[T], str | None, str]:
    """Trim the one extra row fetched; return the page, the next token and the self token."""
    page = rows[:page_size]
    next_token = encode_token(key(page[-1])) if len(rows) > page_size else None
    return page, next_token, encode_token(start)


# Positions in (created_at DESC, id DESC) order, bound to one query --------------------------


class Position(msgspec.Struct, frozen=True):
    """The last row of a page: the next page starts strictly after it."""

    created_at: datetime
    id: uuid.UUID


class _PositionToken(msgspec.Struct, frozen=True):
    v: int
    q: str
    at: int | None = None
    id: str | None = None


def query_fingerprint(kind: str, filters: Any) -> str:
    """A short, stable digest of a list's kind and its (normalised) filters."""
    canonical = msgspec.json.encode([kind, msgspec.to_builtins(filters)], order="sorted")
    return _b64encode(hashlib.blake2b(canonical, digest_size=9).digest())


def encode_position(query: str, position: Position | None) -> str:
    if position is None:
        return _b64encode(msgspec.json.encode(_PositionToken(2, query)))
    micros = (position.created_at - _EPOCH) // timedelta(microseconds=1)
    token = _PositionToken(2, query, micros, position.id.hex)
    return _b64encode(msgspec.json.encode(token))


def decode_position(query: str, token: str | None) -> Position | None:
    """The position a token stands for (None: the first page).

    A malformed token, or one made for another query, is a 400 (never a 500).
    """
    if token is None:
        return None
    try:
        parsed = msgspec.json.decode(_b64decode(token), type=_PositionToken)
        position = None
        if parsed.at is not None and parsed.id is not None:
            created_at = _EPOCH + timedelta(microseconds=parsed.at)
            position = Position(created_at, uuid.UUID(hex=parsed.id))
        elif parsed.at is not None or parsed.id is not None:
            raise InvalidPageToken(context=_CONTEXT)
    except (binascii.Error, ValueError, OverflowError, msgspec.DecodeError) as exc:
        raise InvalidPageToken(context=_CONTEXT) from exc
    if parsed.v != 2:
        raise InvalidPageToken(context=_CONTEXT)
    if parsed.q != query:
        raise InvalidPageToken(
            "The page token belongs to a list with other filters", context=_CONTEXT
        )
    return position


def position_page(
    rows: list[T],
    page_size: int,
    query: str,
    start: Position | None,
    key: Callable[[T], Position],
) -> tuple[list[T], str | None, str]:
    """Trim the one extra row fetched; return the page, the next token and the self token."""
    page = rows[:page_size]
    next_token = encode_position(query, key(page[-1])) if len(rows) > page_size else None
    return page, next_token, encode_position(query, start)
