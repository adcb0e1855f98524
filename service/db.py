"""The PostgreSQL pool: codecs and connection set-up in one place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import msgspec

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
DEADLOCK_TRIES = 3


def _encode_jsonb(value: Any) -> bytes:
    # Binary jsonb: a version byte, then the JSON text. (A text-format codec breaks COPY.)
    return b"\x01" + _encoder.encode(value)


def _decode_jsonb(data: bytes) -> Any:
    return msgspec.json.decode(data[1:])


async def init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb",
        encoder=_encode_jsonb,
        decoder=_decode_jsonb,
        schema="pg_catalog",
        format="binary",
    )


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=init_connection
    )
    assert pool is not None
    return pool


async def plan_with_values(conn: asyncpg.Connection) -> None:
    """Plan this transaction's statements with their parameter values, never generically.

    For queries whose filters are optional parameters (`$2 IS NULL OR col = $2`): planned with
    the values, unused filters fold away and the right index is chosen; a generic plan (what a
    prepared statement may switch to after five calls) cannot fold them and would scan.
    """
    await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")


async def retry_deadlocks(transaction: Callable[[], Awaitable[T]]) -> T:
    """Run a transaction, again when PostgreSQL broke a deadlock by rolling it back.

    For transactions that lock many message rows while a worker's batch update may lock some
    of them in another order: the rolled-back try changed nothing, so trying again is safe.
    """
    for attempt in range(DEADLOCK_TRIES):
        try:
            return await transaction()
        except asyncpg.DeadlockDetectedError:
            if attempt + 1 == DEADLOCK_TRIES:
                raise
    raise AssertionError("unreachable")
