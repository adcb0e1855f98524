"""Audiences, their members and the expansion of a send's profile sources, in PostgreSQL.

The named queries are in queries.sql. Filters make the only statements built here: their text
is fixed fragments and `$n` placeholders (service/audiences/filters.py), every name and value a
bound parameter.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg
import msgspec

from service import sql
from service.audiences.filters import Filter
from service.profiles.store import ProfileRow

Q = sql.load(__file__)

# Keyset pages in profile id order start after this id: below every UUIDv7.
BEFORE_ALL = uuid.UUID(int=0)


class AudienceRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    display_name: str
    filter: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


Conn: TypeAlias = asyncpg.Pool | asyncpg.Connection


async def insert_audience(
    conn: Conn,
    *,
    audience_id: uuid.UUID,
    account_sid: str,
    display_name: str,
    filter: dict[str, Any] | None,
    now: datetime,
) -> AudienceRow:
    row = await conn.fetchrow(
        Q.insert_audience, audience_id, account_sid, display_name, filter, now
    )
    return AudienceRow(**dict(row))


async def get_audience(
    conn: Conn, audience_id: uuid.UUID, account_sid: str, *, lock: bool = False
) -> AudienceRow | None:
    row = await conn.fetchrow(Q.lock_audience if lock else Q.get_audience, audience_id, account_sid)
    return AudienceRow(**dict(row)) if row else None


async def list_audiences(
    conn: Conn, account_sid: str, after: uuid.UUID | None, limit: int
) -> list[AudienceRow]:
    rows = await conn.fetch(Q.list_audiences, account_sid, after, limit)
    return [AudienceRow(**dict(row)) for row in rows]


async def delete_audience(conn: Conn, audience_id: uuid.UUID, account_sid: str) -> bool:
    return await conn.fetchval(Q.delete_audience, audience_id, account_sid) is not None


async def member_count(conn: Conn, audience_id: uuid.UUID) -> int:
    return int(await conn.fetchval(Q.member_count, audience_id))


async def account_profiles(
    conn: Conn, profile_ids: Sequence[uuid.UUID], account_sid: str
) -> set[uuid.UUID]:
    """Which of these ids are this account's profiles."""
    if not profile_ids:
        return set()
    rows = await conn.fetch(Q.account_profiles, list(profile_ids), account_sid)
    return {row["id"] for row in rows}


async def account_audiences(
    conn: Conn, audience_ids: Sequence[uuid.UUID], account_sid: str
) -> set[uuid.UUID]:
    if not audience_ids:
        return set()
    rows = await conn.fetch(Q.account_audiences, list(audience_ids), account_sid)
    return {row["id"] for row in rows}


async def add_members(
    conn: asyncpg.Connection, audience_id: uuid.UUID, profile_ids: list[uuid.UUID], now: datetime
) -> int:
    status = await conn.execute(Q.add_members, audience_id, profile_ids, now)
    return int(status.split()[-1])


async def remove_members(
    conn: asyncpg.Connection, audience_id: uuid.UUID, profile_ids: list[uuid.UUID]
) -> int:
    status = await conn.execute(Q.remove_members, audience_id, profile_ids)
    return int(status.split()[-1])


_PROFILE_COLUMNS = "id, external_id, addresses, attributes, time_zone, created_at, updated_at"


async def list_members(
    conn: Conn,
    audience: AudienceRow,
    audience_filter: Filter | None,
    account_sid: str,
    after: uuid.UUID | None,
    limit: int,
) -> list[ProfileRow]:
    """An audience's profiles in id order, strictly after `after`: a static audience's
    members, or the profiles its filter matches now."""
    if audience_filter is None:
        rows = await conn.fetch(Q.list_static_members, audience.id, account_sid, after, limit)
    else:
        # profiles_account_idx (account_sid, id) read from the position on, each row tested
        # against the filter, until `limit` match.
        condition, params = audience_filter.sql("attributes", 4)
        rows = await conn.fetch(
            f"SELECT {_PROFILE_COLUMNS} FROM profiles "  # noqa: S608 (placeholders only)
            f"WHERE account_sid = $1 AND id > $2 AND {condition} ORDER BY id LIMIT $3",
            account_sid,
            after or BEFORE_ALL,
            limit,
            *params,
        )
    return [ProfileRow(**dict(row)) for row in rows]


async def filter_size(conn: Conn, audience_filter: Filter, account_sid: str) -> int:
    """How many of the account's profiles the filter matches now (equalities through
    profiles_attributes_idx)."""
    condition, params = audience_filter.sql("attributes", 2)
    count = await conn.fetchval(
        f"SELECT count(*)::bigint FROM profiles WHERE account_sid = $1 AND {condition}",  # noqa: S608 (placeholders only)
        account_sid,
        *params,
    )
    return int(count)


# Expansion ------------------------------------------------------------------------------------


class ExpansionState(msgspec.Struct, frozen=True):
    id: uuid.UUID
    account_sid: str
    status: str
    tags: dict[str, str]
    content: dict[str, Any]
    validity_period: int
    expansion: dict[str, Any] | None
    expansion_cursor: uuid.UUID | None
    expanding: bool
    total: int
    # The send's: every message of a send shares it, expanded ones too (lists order by it).
    created_at: datetime


class PageProfile(msgspec.Struct, frozen=True):
    """One profile id of the page, with its profile (None: gone since it was listed)."""

    source_id: uuid.UUID
    id: uuid.UUID | None
    addresses: list[dict[str, Any]] | None
    attributes: dict[str, Any] | None
    time_zone: str | None


async def begin_expansion(
    conn: asyncpg.Connection, operation_id: uuid.UUID, expansion: dict[str, Any]
) -> None:
    await conn.execute(Q.begin_expansion, operation_id, expansion)


async def expanding_operations(conn: Conn, limit: int) -> list[uuid.UUID]:
    return [row["id"] for row in await conn.fetch(Q.expanding_operations, limit)]


async def has_profile_sources(conn: Conn, operation_id: uuid.UUID) -> bool:
    sources: bool | None = await conn.fetchval(Q.has_profile_sources, operation_id)
    return bool(sources)


async def try_expansion_lock(conn: asyncpg.Connection, operation_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval(Q.try_expansion_lock, operation_id))


async def release_expansion_lock(conn: asyncpg.Connection, operation_id: uuid.UUID) -> None:
    await conn.fetchval(Q.release_expansion_lock, operation_id)


async def lock_expansion(
    conn: asyncpg.Connection, operation_id: uuid.UUID
) -> ExpansionState | None:
    row = await conn.fetchrow(Q.lock_expansion, operation_id)
    return ExpansionState(**dict(row)) if row else None


async def audiences_of(
    conn: Conn, audience_ids: Sequence[uuid.UUID], account_sid: str
) -> list[tuple[uuid.UUID, dict[str, Any] | None]]:
    rows = await conn.fetch(Q.audiences_of, list(audience_ids), account_sid)
    return [(row["id"], row["filter"]) for row in rows]


async def profile_page(
    conn: asyncpg.Connection,
    *,
    account_sid: str,
    after: uuid.UUID | None,
    limit: int,
    profile_ids: Sequence[uuid.UUID],
    static_audiences: Sequence[uuid.UUID],
    audience_filters: Sequence[Filter],
) -> list[PageProfile]:
    """The next `limit` profile ids of the union of a send's sources, in id order, strictly
    after `after`, each once, with their profiles.

    Each source is one branch read in id order from the position and cut at `limit` (the
    given profiles by the primary key, a static audience by audience_members_pkey, a filter by
    profiles_account_idx): the union of the branches' first `limit`, ordered and cut again, is
    exactly the union's next `limit`. Its cost is one page per source, not the audience size.
    """
    params: list[Any] = [account_sid, after or BEFORE_ALL, limit]

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    branches = []
    if profile_ids:
        branches.append(
            "SELECT id FROM profiles "  # noqa: S608 (placeholders only)
            f"WHERE id = ANY({param(list(profile_ids))}::uuid[]) AND account_sid = $1 "
            "AND id > $2 ORDER BY id LIMIT $3"
        )
    for audience_id in static_audiences:
        branches.append(
            "SELECT profile_id AS id FROM audience_members "  # noqa: S608 (placeholders only)
            f"WHERE audience_id = {param(audience_id)}::uuid AND profile_id > $2 "
            "ORDER BY profile_id LIMIT $3"
        )
    for audience_filter in audience_filters:
        condition, filter_params = audience_filter.sql("attributes", len(params) + 1)
        params.extend(filter_params)
        branches.append(
            "SELECT id FROM profiles WHERE account_sid = $1 AND id > $2 "  # noqa: S608 (placeholders only)
            f"AND {condition} ORDER BY id LIMIT $3"
        )
    if not branches:
        return []
    union = " UNION ".join(f"({branch})" for branch in branches)
    rows = await conn.fetch(
        f"WITH page AS (SELECT id FROM ({union}) u ORDER BY id LIMIT $3) "  # noqa: S608 (placeholders only)
        "SELECT page.id AS source_id, p.id, p.addresses, p.attributes, p.time_zone "
        "FROM page LEFT JOIN profiles p ON p.id = page.id AND p.account_sid = $1 "
        "ORDER BY page.id",
        *params,
    )
    return [PageProfile(**dict(row)) for row in rows]


async def advance_expansion(
    conn: asyncpg.Connection,
    operation_id: uuid.UUID,
    *,
    cursor: uuid.UUID | None,
    added: int,
    finished: bool,
    now: datetime,
) -> None:
    await conn.execute(Q.advance_expansion, operation_id, cursor, added, finished, now)
