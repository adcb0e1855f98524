"""Audiences: create, read, list, delete; the members of static ones."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from schemas.audiences import (
    MAX_DISPLAY_NAME,
    MAX_MEMBER_CHANGE,
    AudienceCreate,
    AudienceMembersChange,
    AudienceMembersChanged,
    AudienceMembersPage,
    AudienceRead,
    AudiencesPage,
)
from schemas.common import Pagination
from service import error_codes, ids
from service.audiences import filters, store
from service.clock import rfc3339
from service.errors import ApiError, NotFound, Problem, ValidationFailed
from service.pagination import decode_token, encode_token, trim_page
from service.profiles import logic as profiles


class FilterAudienceMembers(ApiError):
    """This audience selects its members by its filter: members cannot be added or removed."""

    error = error_codes.FILTER_AUDIENCE_MEMBERS


def present(row: store.AudienceRow, size: int | None = None) -> AudienceRead:
    return AudienceRead(
        id=ids.encode(ids.AUDIENCE, row.id),
        display_name=row.display_name,
        filter=row.filter,
        size=size,
        created_at=rfc3339(row.created_at),
        updated_at=rfc3339(row.updated_at),
    )


def stored_filter(row: store.AudienceRow) -> filters.Filter | None:
    """A stored filter, as checked when the audience was created."""
    if row.filter is None:
        return None
    checked, problems = filters.check_filter(row.filter)
    if checked is None:  # stored only once checked: cannot happen
        raise ValidationFailed(problems)
    return checked


async def create_audience(
    pool: asyncpg.Pool, *, account_sid: str, request: AudienceCreate, now: datetime
) -> AudienceRead:
    problems: list[Problem] = []
    if not 1 <= len(request.display_name) <= MAX_DISPLAY_NAME:
        problems.append(
            Problem(
                error_codes.INVALID_FIELD.code,
                f"displayName must be 1..{MAX_DISPLAY_NAME} characters",
                "$.displayName",
            )
        )
    if request.filter is not None:
        problems += filters.check_filter(request.filter)[1]
    if problems:
        raise ValidationFailed(problems)
    row = await store.insert_audience(
        pool,
        audience_id=ids.uuid7(),
        account_sid=account_sid,
        display_name=request.display_name,
        filter=request.filter,
        now=now,
    )
    return present(row, 0 if row.filter is None else await _size(pool, row, account_sid))


async def _size(conn: store.Conn, row: store.AudienceRow, account_sid: str) -> int:
    checked = stored_filter(row)
    if checked is None:
        return await store.member_count(conn, row.id)
    return await store.filter_size(conn, checked, account_sid)


async def _audience(pool: asyncpg.Pool, account_sid: str, audience_id: str) -> store.AudienceRow:
    key = ids.decode(ids.AUDIENCE, audience_id)
    row = await store.get_audience(pool, key, account_sid) if key else None
    if row is None:
        raise NotFound()
    return row


async def get_audience(pool: asyncpg.Pool, *, account_sid: str, audience_id: str) -> AudienceRead:
    row = await _audience(pool, account_sid, audience_id)
    return present(row, await _size(pool, row, account_sid))


async def list_audiences(
    pool: asyncpg.Pool, *, account_sid: str, page_size: int, page_token: str | None
) -> AudiencesPage:
    start = decode_token(page_token)
    rows = await store.list_audiences(pool, account_sid, start, page_size + 1)
    page, next_token, self_token = trim_page(rows, page_size, start, lambda r: r.id)
    return AudiencesPage(
        audiences=[present(r) for r in page],
        pagination=Pagination(next=next_token, self=self_token),
    )


async def delete_audience(pool: asyncpg.Pool, *, account_sid: str, audience_id: str) -> None:
    key = ids.decode(ids.AUDIENCE, audience_id)
    if key is None or not await store.delete_audience(pool, key, account_sid):
        raise NotFound()


# Members ---------------------------------------------------------------------------------------


def _profile_keys(profile_ids: list[str]) -> list[uuid.UUID]:
    """The ids decoded, every malformed one reported; duplicates count once."""
    problems: list[Problem] = []
    if not 1 <= len(profile_ids) <= MAX_MEMBER_CHANGE:
        raise ValidationFailed(
            [
                Problem(
                    error_codes.INVALID_FIELD.code,
                    f"profileIds must list 1..{MAX_MEMBER_CHANGE:,} ids; it lists "
                    f"{len(profile_ids)}",
                    "$.profileIds",
                )
            ]
        )
    keys: dict[uuid.UUID, None] = {}
    for index, text in enumerate(profile_ids):
        key = ids.decode(ids.PROFILE, text)
        if key is None:
            problems.append(
                Problem(
                    error_codes.INVALID_FIELD.code,
                    "not a profile id (comms_profile_…)",
                    f"$.profileIds[{index}]",
                )
            )
        else:
            keys[key] = None
    if problems:
        raise ValidationFailed(problems)
    return list(keys)


async def change_members(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    audience_id: str,
    request: AudienceMembersChange,
    add: bool,
    now: datetime,
) -> AudienceMembersChanged:
    """Add (or remove) members of a static audience, all or nothing: an id that is no profile
    of this account fails the call (400, 90051, naming each such id) and changes nothing."""
    keys = _profile_keys(request.profile_ids)
    audience_key = ids.decode(ids.AUDIENCE, audience_id)
    if audience_key is None:
        raise NotFound()
    async with pool.acquire() as conn, conn.transaction():
        row = await store.get_audience(conn, audience_key, account_sid, lock=True)
        if row is None:
            raise NotFound()
        if row.filter is not None:
            raise FilterAudienceMembers()
        if add:
            known = await store.account_profiles(conn, keys, account_sid)
            unknown = [
                (index, text)
                for index, text in enumerate(request.profile_ids)
                if ids.decode(ids.PROFILE, text) not in known
            ]
            if unknown:
                raise ValidationFailed(
                    [
                        Problem(
                            error_codes.UNKNOWN_PROFILE.code,
                            f"no profile of this account has the id {text}",
                            f"$.profileIds[{index}]",
                        )
                        for index, text in unknown
                    ]
                )
            changed = await store.add_members(conn, audience_key, keys, now)
        else:
            # Removing ids that are not members (another account's among them) changes nothing.
            changed = await store.remove_members(conn, audience_key, keys)
        size = await store.member_count(conn, audience_key)
    return AudienceMembersChanged(changed=changed, size=size)


async def list_members(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    audience_id: str,
    page_size: int,
    page_token: str | None,
) -> AudienceMembersPage:
    """A static audience's members, or the profiles a filter audience matches now; in profile
    id order."""
    row = await _audience(pool, account_sid, audience_id)
    start = decode_token(page_token)
    rows = await store.list_members(
        pool, row, stored_filter(row), account_sid, start, page_size + 1
    )
    page = rows[:page_size]
    next_token = encode_token(page[-1].id) if len(rows) > page_size else None
    return AudienceMembersPage(
        profiles=[profiles.present(r) for r in page],
        pagination=Pagination(next=next_token, self=encode_token(start)),
    )
