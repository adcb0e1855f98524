"""Profiles and profile imports in PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg
import msgspec

from service import sql

Q = sql.load(__file__)

Connection: TypeAlias = asyncpg.Pool | asyncpg.Connection

PROFILE_COPY_COLUMNS = (
    "id",
    "account_sid",
    "external_id",
    "addresses",
    "attributes",
    "time_zone",
    "created_at",
    "updated_at",
)


class ProfileRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    external_id: str | None
    addresses: list[dict[str, str]]
    attributes: dict[str, Any]
    time_zone: str | None
    created_at: datetime
    updated_at: datetime


class ProfileWrite(msgspec.Struct, frozen=True):
    """A profile's whole new state."""

    id: uuid.UUID
    external_id: str | None
    addresses: list[dict[str, str]]
    attributes: dict[str, Any]
    time_zone: str | None


class ImportRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    status: str
    format: str
    rows_read: int
    rows_imported: int
    rows_failed: int
    errors: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


class ClaimedImport(msgspec.Struct, frozen=True):
    id: uuid.UUID
    account_sid: str
    format: str
    columns: list[str] | None
    errors_kept: int


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _profile(row: asyncpg.Record) -> ProfileRow:
    return ProfileRow(**dict(row))


async def insert_profile(
    conn: Connection, account_sid: str, write: ProfileWrite, now: datetime
) -> ProfileRow | None:
    """The new profile; None when the account has one with this external id already."""
    row = await conn.fetchrow(
        Q.insert_profile,
        write.id,
        account_sid,
        write.external_id,
        write.addresses,
        write.attributes,
        write.time_zone,
        now,
    )
    return _profile(row) if row else None


async def copy_profiles(
    conn: asyncpg.Connection, account_sid: str, writes: Sequence[ProfileWrite], now: datetime
) -> None:
    """New profiles in one COPY."""
    if writes:
        await conn.copy_records_to_table(
            "profiles",
            records=[
                (
                    w.id,
                    account_sid,
                    w.external_id,
                    w.addresses,
                    w.attributes,
                    w.time_zone,
                    now,
                    now,
                )
                for w in writes
            ],
            columns=PROFILE_COPY_COLUMNS,
        )


async def get_profile(
    conn: Connection, profile_id: uuid.UUID, account_sid: str
) -> ProfileRow | None:
    row = await conn.fetchrow(Q.get_profile, profile_id, account_sid)
    return _profile(row) if row else None


async def lock_profile(
    conn: asyncpg.Connection, profile_id: uuid.UUID, account_sid: str
) -> ProfileRow | None:
    row = await conn.fetchrow(Q.lock_profile, profile_id, account_sid)
    return _profile(row) if row else None


async def lock_by_external_ids(
    conn: asyncpg.Connection, account_sid: str, external_ids: Sequence[str]
) -> dict[str, ProfileRow]:
    if not external_ids:
        return {}
    rows = await conn.fetch(Q.lock_by_external_ids, account_sid, list(external_ids))
    found = [_profile(row) for row in rows]
    return {row.external_id: row for row in found if row.external_id is not None}


async def update_profiles(
    conn: asyncpg.Connection, account_sid: str, writes: Sequence[ProfileWrite], now: datetime
) -> list[ProfileRow]:
    if not writes:
        return []
    rows = await conn.fetch(
        Q.update_profiles,
        account_sid,
        [w.id for w in writes],
        [w.external_id for w in writes],
        [_json(w.addresses) for w in writes],
        [_json(w.attributes) for w in writes],
        [w.time_zone for w in writes],
        now,
    )
    return [_profile(row) for row in rows]


async def list_profiles(
    conn: Connection,
    account_sid: str,
    *,
    external_id: str | None,
    address: list[dict[str, str]] | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[ProfileRow]:
    rows = await conn.fetch(Q.list_profiles, account_sid, external_id, address, after, limit)
    return [_profile(row) for row in rows]


async def delete_profile(conn: Connection, profile_id: uuid.UUID, account_sid: str) -> bool:
    return await conn.fetchval(Q.delete_profile, profile_id, account_sid) is not None


# Imports ---------------------------------------------------------------------------------------


async def insert_import(
    conn: asyncpg.Connection,
    import_id: uuid.UUID,
    account_sid: str,
    format: str,
    columns: list[str] | None,
    now: datetime,
) -> None:
    await conn.execute(Q.insert_import, import_id, account_sid, format, columns, now)


async def copy_staged_rows(
    conn: asyncpg.Connection, import_id: uuid.UUID, rows: Sequence[tuple[int, bytes | None]]
) -> None:
    """Stage a chunk of an import's rows in one COPY."""
    if rows:
        await conn.copy_records_to_table(
            "profile_import_rows",
            records=[(import_id, number, line) for number, line in rows],
            columns=("import_id", "row_number", "line"),
        )


async def set_rows_read(conn: asyncpg.Connection, import_id: uuid.UUID, rows: int) -> None:
    await conn.execute(Q.set_rows_read, import_id, rows)


async def get_import(conn: Connection, import_id: uuid.UUID, account_sid: str) -> ImportRow | None:
    row = await conn.fetchrow(Q.get_import, import_id, account_sid)
    return ImportRow(**dict(row)) if row else None


async def claim_import(conn: asyncpg.Connection) -> ClaimedImport | None:
    row = await conn.fetchrow(Q.claim_import)
    return ClaimedImport(**dict(row)) if row else None


async def staged_rows(
    conn: asyncpg.Connection, import_id: uuid.UUID, limit: int
) -> list[tuple[int, bytes | None]]:
    rows = await conn.fetch(Q.staged_rows, import_id, limit)
    return [(row["row_number"], row["line"]) for row in rows]


async def delete_staged_rows(conn: asyncpg.Connection, import_id: uuid.UUID, upto: int) -> None:
    await conn.execute(Q.delete_staged_rows, import_id, upto)


async def record_progress(
    conn: asyncpg.Connection,
    import_id: uuid.UUID,
    *,
    imported: int,
    failed: int,
    errors: list[dict[str, Any]],
    now: datetime,
) -> None:
    await conn.execute(Q.record_progress, import_id, imported, failed, errors, now)


async def finish_import(conn: asyncpg.Connection, import_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(Q.finish_import, import_id, now)
