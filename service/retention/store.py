"""Deleting what is older than the retention period: whole day partitions, then rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import TypeAlias

import asyncpg
import msgspec

from service import sql

Q = sql.load(__file__)

Connection: TypeAlias = asyncpg.Pool | asyncpg.Connection
NIL = uuid.UUID(int=0)


def _ident(name: str) -> str:
    """A table name (read from pg_class) quoted as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


class ExpiredPartition(msgspec.Struct, frozen=True):
    """A partition whose whole range ends before the retention cutoff."""

    name: str
    table_name: str
    # Its range: the first key of its day (the nil uuid for the legacy partition, which starts
    # at MINVALUE) to the first key of the next day.
    lower: uuid.UUID
    upper: uuid.UUID


async def create_day_partitions(conn: Connection, first_day: date, days: int) -> int:
    made: int = await conn.fetchval(Q.create_day_partitions, first_day, days)
    return made


async def cutoff_key(conn: Connection, cutoff: datetime) -> uuid.UUID:
    key: uuid.UUID = await conn.fetchval(Q.cutoff_key, cutoff)
    return key


async def expired_partitions(conn: Connection, upto: uuid.UUID) -> list[ExpiredPartition]:
    rows = await conn.fetch(Q.expired_partitions, upto)
    return [
        ExpiredPartition(row["name"], row["table_name"], row["lower"] or NIL, row["upper"])
        for row in rows
    ]


async def kept_operations(conn: Connection, upper: uuid.UUID) -> list[uuid.UUID]:
    return [row["operation_id"] for row in await conn.fetch(Q.kept_operations, upper)]


async def day_operations(
    conn: Connection,
    day: tuple[uuid.UUID, uuid.UUID],
    after: uuid.UUID,
    keep: Sequence[uuid.UUID],
    limit: int,
) -> list[uuid.UUID]:
    rows = await conn.fetch(Q.day_operations, *day, after, list(keep), limit)
    return [row["id"] for row in rows]


async def delete_later_attempts(
    conn: Connection, upper: uuid.UUID, operation_ids: Sequence[uuid.UUID]
) -> None:
    await conn.execute(Q.delete_later_attempts, upper, list(operation_ids))


async def count_day_messages(
    conn: asyncpg.Connection, day: tuple[uuid.UUID, uuid.UUID], operation_ids: list[uuid.UUID]
) -> int:
    count: int = await conn.fetchval(Q.count_day_messages, *day, operation_ids)
    return count


async def release_provider_sids(conn: asyncpg.Connection, operation_ids: list[uuid.UUID]) -> None:
    await conn.execute(Q.release_provider_sids, operation_ids)


async def delete_straddling_messages_of(
    conn: asyncpg.Connection, upper: uuid.UUID, until: uuid.UUID, operation_ids: list[uuid.UUID]
) -> int:
    status = await conn.execute(Q.delete_straddling_messages_of, upper, until, operation_ids)
    return int(status.split()[-1])


async def lock_partitioned(conn: asyncpg.Connection) -> None:
    await conn.execute(Q.lock_partitioned)


async def drop_day_partition(
    conn: asyncpg.Connection, partition: str, keep: Sequence[uuid.UUID]
) -> None:
    await conn.execute(Q.drop_day_partition, _ident(partition), list(keep))


async def delete_straddling_messages(
    conn: asyncpg.Connection,
    day: tuple[uuid.UUID, uuid.UUID],
    until: uuid.UUID,
    keep: Sequence[uuid.UUID],
) -> int:
    status = await conn.execute(Q.delete_straddling_messages, *day, until, list(keep))
    return int(status.split()[-1])


async def delete_day_operations(
    conn: asyncpg.Connection, day: tuple[uuid.UUID, uuid.UUID], keep: Sequence[uuid.UUID]
) -> None:
    await conn.execute(Q.delete_day_operations, *day, list(keep))


async def delete_operations_only(conn: asyncpg.Connection, operation_ids: list[uuid.UUID]) -> None:
    """Delete operations whose messages and attempts go with their day's partitions."""
    await conn.execute(Q.delete_operations, operation_ids)


async def expired_operations(
    conn: asyncpg.Pool | asyncpg.Connection, before: datetime, limit: int
) -> list[uuid.UUID]:
    rows = await conn.fetch(Q.expired_operations, before, limit)
    return [row["id"] for row in rows]


async def delete_operations(conn: asyncpg.Connection, operation_ids: list[uuid.UUID]) -> int:
    """Delete operations with their messages and attempts; return the messages deleted."""
    await conn.execute(Q.delete_attempts, operation_ids)
    deleted = await conn.execute(Q.delete_messages, operation_ids)
    await conn.execute(Q.delete_operations, operation_ids)
    return int(deleted.split()[-1])


async def purge_early_receipts(conn: asyncpg.Pool | asyncpg.Connection, before: datetime) -> None:
    await conn.execute(Q.purge_early_receipts, before)
