"""Profiles for tests of audiences and sends to them, written straight into the `profiles`
table (migrations/0015): the audience and sending tests need profiles, not the Profiles API."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from service import ids


async def insert_profile(
    pool: asyncpg.Pool | asyncpg.Connection,
    account_sid: str,
    *,
    addresses: Sequence[tuple[str, str]] = (),
    attributes: dict[str, Any] | None = None,
    time_zone: str | None = None,
    external_id: str | None = None,
) -> str:
    """One profile; its TypeID. `addresses` are (address, channel) pairs in priority order."""
    profile_id = ids.uuid7()
    now = datetime.now(UTC)
    await pool.execute(
        "INSERT INTO profiles (id, account_sid, external_id, addresses, attributes, time_zone,"
        " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        profile_id,
        account_sid,
        external_id,
        [{"address": a, "channel": c} for a, c in addresses],
        attributes or {},
        time_zone,
        now,
    )
    return ids.encode(ids.PROFILE, profile_id)


async def insert_phone_profiles(
    pool: asyncpg.Pool,
    account_sid: str,
    count: int,
    *,
    first_number: int = 15558700000,
    attributes: dict[str, Any] | None = None,
) -> list[uuid.UUID]:
    """`count` profiles with one PHONE number each (+<first_number + n>), in one statement;
    their ids in order. Numbers are made in SQL, so a bench's 100,000 cost one round trip."""
    rows = await pool.fetch(
        "INSERT INTO profiles (id, account_sid, addresses, attributes, created_at, updated_at)"
        " SELECT i.id, $2, jsonb_build_array(jsonb_build_object("
        "   'address', '+' || ($3::bigint + i.n)::text, 'channel', 'PHONE')),"
        "   $4, now(), now()"
        " FROM unnest($1::uuid[]) WITH ORDINALITY AS i(id, n)"
        " RETURNING id",
        ids.uuid7_batch(count),
        account_sid,
        first_number - 1,
        attributes or {},
    )
    return sorted(row["id"] for row in rows)


def profile_typeid(profile_id: uuid.UUID) -> str:
    return ids.encode(ids.PROFILE, profile_id)
