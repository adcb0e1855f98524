"""Profiles: the people an account sends to, kept by the API and loaded by imports.

Rules (see README "Profiles"):
- A profile has 0..10 addresses (E.164, on SMS, WHATSAPP or CONVERSATIONS; in priority order),
  flat attributes (strings, numbers, booleans; at most 50 keys), an optional IANA time zone and
  an optional external id, unique in the account.
- Writes other than POST are partial: a field left out stays; `addresses` given replaces the
  list; `attributes` is merged key by key (`null` removes a key); `null` clears `externalId` or
  `timeZone`. `PUT /v1/Profiles/ExternalId/{externalId}` and each import row with an external
  id write the same way, creating the profile when the account has none with that id.
- Tenancy: another account's profile is a 404, whatever the route.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from msgspec import UnsetType

from schemas.common import Pagination
from schemas.profiles import (
    ProfileAddress,
    ProfileCreate,
    ProfileRead,
    ProfilesPage,
    ProfileUpdate,
)
from service import db, error_codes, filters, ids
from service.clock import rfc3339
from service.errors import ApiError, NotFound, Problem, ValidationFailed
from service.pagination import decode_token, trim_page
from service.profiles import store
from service.profiles.validation import EMPTY, Fields, State, check, check_external_id, merge


class ProfileExists(ApiError):
    """This account has a profile with this externalId already."""

    error = error_codes.PROFILE_EXISTS


def present(row: store.ProfileRow) -> ProfileRead:
    return ProfileRead(
        id=ids.encode(ids.PROFILE, row.id),
        external_id=row.external_id,
        addresses=[
            ProfileAddress(address=a["address"], channel=a["channel"]) for a in row.addresses
        ],
        attributes=row.attributes,
        time_zone=row.time_zone,
        created_at=rfc3339(row.created_at),
        updated_at=rfc3339(row.updated_at),
    )


def _state(row: store.ProfileRow) -> State:
    return State(row.external_id, row.addresses, row.attributes, row.time_zone)


def _write(profile_id: uuid.UUID, state: State) -> store.ProfileWrite:
    return store.ProfileWrite(
        id=profile_id,
        external_id=state.external_id,
        addresses=state.addresses,
        attributes=state.attributes,
        time_zone=state.time_zone,
    )


def _checked(body: ProfileCreate | ProfileUpdate) -> Fields:
    fields, problems = check(body)
    if problems:
        raise ValidationFailed(problems)
    return fields


def _merged(state: State, fields: Fields) -> State:
    merged, problems = merge(state, fields)
    if problems:
        raise ValidationFailed(problems)
    return merged


async def create_profile(
    pool: asyncpg.Pool, *, account_sid: str, request: ProfileCreate, now: datetime
) -> ProfileRead:
    state = _merged(EMPTY, _checked(request))
    row = await store.insert_profile(pool, account_sid, _write(ids.uuid7(), state), now)
    if row is None:
        raise ProfileExists(context="$.externalId")
    return present(row)


def _key(profile_id: str) -> uuid.UUID:
    key = ids.decode(ids.PROFILE, profile_id)
    if key is None:
        raise NotFound()
    return key


async def get_profile(pool: asyncpg.Pool, *, account_sid: str, profile_id: str) -> ProfileRead:
    row = await store.get_profile(pool, _key(profile_id), account_sid)
    if row is None:
        raise NotFound()
    return present(row)


async def delete_profile(pool: asyncpg.Pool, *, account_sid: str, profile_id: str) -> None:
    if not await store.delete_profile(pool, _key(profile_id), account_sid):
        raise NotFound()


async def update_profile(
    pool: asyncpg.Pool, *, account_sid: str, profile_id: str, request: ProfileUpdate, now: datetime
) -> ProfileRead:
    key = _key(profile_id)
    fields = _checked(request)
    try:
        async with pool.acquire() as conn, conn.transaction():
            row = await store.lock_profile(conn, key, account_sid)
            if row is None:
                raise NotFound()
            state = _merged(_state(row), fields)
            [updated] = await store.update_profiles(conn, account_sid, [_write(key, state)], now)
    except asyncpg.UniqueViolationError as exc:
        raise ProfileExists(context="$.externalId") from exc
    return present(updated)


async def upsert_profile(
    pool: asyncpg.Pool, *, account_sid: str, external_id: str, request: ProfileCreate, now: datetime
) -> tuple[ProfileRead, bool]:
    """The profile with this external id, written (created when absent); whether it is new."""
    problems: list[Problem] = []
    check_external_id(external_id, "$.externalId", problems)
    if not isinstance(request.external_id, UnsetType) and request.external_id != external_id:
        problems.append(
            Problem(
                error_codes.INVALID_FIELD.code,
                "externalId in the body must be left out or equal the path's",
                "$.externalId",
            )
        )
    fields, more = check(request)
    problems += more
    if problems:
        raise ValidationFailed(problems)
    fields = Fields(external_id, fields.addresses, fields.attributes, fields.time_zone)

    async def upsert() -> tuple[store.ProfileRow, bool]:
        async with pool.acquire() as conn, conn.transaction():
            [(row, created, problems)] = await write_by_external_id(
                conn, account_sid, [fields], now
            )
            if row is None:
                raise ValidationFailed(problems)
            return row, created

    try:
        row, created = await upsert()
    except asyncpg.UniqueViolationError:
        # Created by another request since this one looked: write over it now.
        row, created = await upsert()
    return present(row), created


@dataclass(frozen=True)
class _Pending:
    profile_id: uuid.UUID
    state: State
    exists: bool


async def write_by_external_id(
    conn: asyncpg.Connection, account_sid: str, writes: Sequence[Fields], now: datetime
) -> list[tuple[store.ProfileRow | None, bool, list[Problem]]]:
    """Write each checked write with an external id over the account's profile with it,
    creating the missing ones; in order, so a later write of the same id sees the earlier one.
    For each write: its row and whether it created it, or why it cannot be merged (the
    profile would hold too many attributes; nothing of it is written)."""
    keys = sorted({w.external_id for w in writes if isinstance(w.external_id, str)})
    existing = await store.lock_by_external_ids(conn, account_sid, keys)
    pending: dict[str, _Pending] = {
        key: _Pending(row.id, _state(row), True) for key, row in existing.items()
    }
    order: list[tuple[str, bool, list[Problem]]] = []
    for write in writes:
        key = write.external_id
        assert isinstance(key, str)
        current = pending.get(key)
        created = current is None
        if current is None:
            current = _Pending(ids.uuid7(), EMPTY, False)
        merged, problems = merge(current.state, write)
        if not problems:
            pending[key] = _Pending(current.profile_id, merged, current.exists)
        order.append((key, created and not problems, problems))
    updated = await store.update_profiles(
        conn,
        account_sid,
        [_write(p.profile_id, p.state) for p in pending.values() if p.exists],
        now,
    )
    inserted = [_write(p.profile_id, p.state) for p in pending.values() if not p.exists]
    await store.copy_profiles(conn, account_sid, inserted, now)
    rows = {row.external_id: row for row in updated}
    for new in inserted:
        assert new.external_id is not None
        rows[new.external_id] = store.ProfileRow(
            new.id, new.external_id, new.addresses, new.attributes, new.time_zone, now, now
        )
    return [
        (None if problems else rows[key], created, problems) for key, created, problems in order
    ]


async def list_profiles(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    external_id: str | None,
    address: str | None,
    page_size: int,
    page_token: str | None,
) -> ProfilesPage:
    problems = filters.FilterProblems()
    wanted = filters.address(address, "$.address", problems)
    if external_id is not None:
        found: list[Problem] = []
        check_external_id(external_id, "$.externalId", found)
        for problem in found:
            problems.add(problem.message, problem.context or "$.externalId")
    problems.raise_any()
    start = decode_token(page_token)
    pattern = [{"address": wanted}] if wanted is not None else None
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        await db.plan_with_values(conn)
        rows = await store.list_profiles(
            conn,
            account_sid,
            external_id=external_id,
            address=pattern,
            after=start,
            limit=page_size + 1,
        )
    page, next_token, self_token = trim_page(rows, page_size, start, lambda r: r.id)
    return ProfilesPage(
        profiles=[present(r) for r in page],
        pagination=Pagination(next=next_token, self=self_token),
    )
