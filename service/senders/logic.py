"""Registering senders and resolving the sender of a send request."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from schemas.common import Pagination
from schemas.messages import SenderIn
from schemas.senders import (
    DEFAULT_MPS,
    MAX_MPS,
    MAX_POOL_SENDERS,
    SenderCreate,
    SenderPoolCreate,
    SenderPoolRead,
    SenderPoolsPage,
    SenderPoolUpdate,
    SenderRead,
    SendersPage,
)
from service import error_codes, ids
from service.clock import rfc3339
from service.errors import ApiError, NotFound, Problem, ValidationFailed
from service.pagination import decode_token, trim_page
from service.senders import kinds, store

CHANNELS = ("SMS", "WHATSAPP", "CONVERSATIONS")


class SenderExists(ApiError):
    """This account has registered this address on this channel already."""

    error = error_codes.SENDER_EXISTS


def present(row: store.SenderRow) -> SenderRead:
    return SenderRead(
        id=ids.encode(ids.SENDER, row.id),
        address=row.address,
        channel=row.channel,
        kind=row.kind,  # type: ignore[arg-type]
        mps=row.mps,
        created_at=rfc3339(row.created_at),
    )


async def create_sender(
    pool: asyncpg.Pool, *, account_sid: str, request: SenderCreate, now: datetime
) -> SenderRead:
    problems: list[Problem] = []
    channel = request.channel.upper()
    address = request.address
    if channel not in CHANNELS:
        problems.append(
            Problem(
                error_codes.INVALID_FIELD.code,
                "channel must be SMS, WHATSAPP or CONVERSATIONS",
                "$.channel",
            )
        )
    if channel == "WHATSAPP":
        address = address.removeprefix("whatsapp:")
    if channel in CHANNELS and not kinds.is_valid_sender_address(address, channel):
        problems.append(
            Problem(error_codes.INVALID_FROM.code, "Invalid sender address", "$.address")
        )
    kind = (request.kind or kinds.infer_kind(address, channel)).upper()
    if kind not in DEFAULT_MPS:
        problems.append(
            Problem(
                error_codes.INVALID_FIELD.code,
                "kind must be LONG_CODE, TOLL_FREE, SHORT_CODE, ALPHANUMERIC, WHATSAPP or "
                "MESSAGING_SERVICE",
                "$.kind",
            )
        )
    elif (kind == "MESSAGING_SERVICE") != kinds.is_messaging_service(address):
        # The provider is told a service SID as MessagingServiceSid, a number as From.
        problems.append(
            Problem(
                error_codes.INVALID_FIELD.code,
                "kind MESSAGING_SERVICE goes with a Messaging Service SID (MG + 32 hex) "
                "and only with one",
                "$.kind",
            )
        )
    mps = request.mps if request.mps is not None else kinds.kind_default_mps(kind, address)
    if not 0 < mps <= MAX_MPS:
        problems.append(
            Problem(error_codes.INVALID_FIELD.code, f"mps must be in (0, {MAX_MPS:g}]", "$.mps")
        )
    if problems:
        raise ValidationFailed(problems)
    row = await store.insert_sender(
        pool,
        sender_id=ids.uuid7(),
        account_sid=account_sid,
        address=address,
        channel=channel,
        kind=kind,
        mps=mps,
        now=now,
    )
    if row is None:
        raise SenderExists()
    return present(row)


async def get_sender(pool: asyncpg.Pool, *, account_sid: str, sender_id: str) -> SenderRead:
    key = ids.decode(ids.SENDER, sender_id)
    row = await store.get_sender(pool, key, account_sid) if key else None
    if row is None:
        raise NotFound()
    return present(row)


async def list_senders(
    pool: asyncpg.Pool, *, account_sid: str, page_size: int, page_token: str | None
) -> SendersPage:
    start = decode_token(page_token)
    rows = await store.list_senders(pool, account_sid, start, page_size + 1)
    page, next_token, self_token = trim_page(rows, page_size, start, lambda r: r.id)
    return SendersPage(
        senders=[present(r) for r in page],
        pagination=Pagination(next=next_token, self=self_token),
    )


async def delete_sender(pool: asyncpg.Pool, *, account_sid: str, sender_id: str) -> None:
    key = ids.decode(ids.SENDER, sender_id)
    if key is None or not await store.delete_sender(pool, key, account_sid):
        raise NotFound()


# Sender pools ---------------------------------------------------------------------------------


async def _pool_senders(
    pool: asyncpg.Pool, account_sid: str, sender_ids: list[str], problems: list[Problem]
) -> list[uuid.UUID]:
    if not 1 <= len(sender_ids) <= MAX_POOL_SENDERS:
        problems.append(
            Problem(
                error_codes.INVALID_FIELD.code,
                f"senders must list 1..{MAX_POOL_SENDERS} sender ids",
                "$.senders",
            )
        )
        return []
    keys: list[uuid.UUID] = []
    for index, text in enumerate(sender_ids):
        key = ids.decode(ids.SENDER, text)
        if key is None:
            problems.append(
                Problem(
                    error_codes.INVALID_FIELD.code, "Malformed sender id", f"$.senders[{index}]"
                )
            )
        elif key in keys:
            problems.append(
                Problem(
                    error_codes.INVALID_FIELD.code,
                    "A sender is listed twice",
                    f"$.senders[{index}]",
                )
            )
        else:
            keys.append(key)
    found = await store.senders_by_ids(pool, account_sid, keys)
    for index, text in enumerate(sender_ids):
        key = ids.decode(ids.SENDER, text)
        if key is not None and key not in found:
            problems.append(
                Problem(error_codes.INVALID_FIELD.code, "Unknown sender", f"$.senders[{index}]")
            )
    return keys


async def present_pool(
    pool: asyncpg.Pool | asyncpg.Connection, account_sid: str, row: store.PoolRow
) -> SenderPoolRead:
    found = await store.senders_by_ids(pool, account_sid, row.sender_ids)
    return SenderPoolRead(
        id=ids.encode(ids.SENDER_POOL, row.id),
        display_name=row.display_name,
        # A sender removed after the pool was made no longer counts.
        senders=[present(found[key]) for key in row.sender_ids if key in found],
        is_default=row.is_default,
        created_at=rfc3339(row.created_at),
        updated_at=rfc3339(row.updated_at),
    )


def _check_name(name: str | None, problems: list[Problem]) -> None:
    if name is not None and not 1 <= len(name) <= 256:
        problems.append(
            Problem(
                error_codes.INVALID_FIELD.code,
                "displayName must be 1..256 characters",
                "$.displayName",
            )
        )


async def create_pool(
    pool: asyncpg.Pool, *, account_sid: str, request: SenderPoolCreate, now: datetime
) -> SenderPoolRead:
    problems: list[Problem] = []
    _check_name(request.display_name, problems)
    keys = await _pool_senders(pool, account_sid, request.senders, problems)
    if problems:
        raise ValidationFailed(problems)
    async with pool.acquire() as conn, conn.transaction():
        row = await store.insert_pool(
            conn,
            pool_id=ids.uuid7(),
            account_sid=account_sid,
            display_name=request.display_name,
            sender_ids=keys,
            is_default=request.is_default,
            now=now,
        )
        return await present_pool(conn, account_sid, row)


async def update_pool(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    pool_id: str,
    request: SenderPoolUpdate,
    now: datetime,
) -> SenderPoolRead:
    key = ids.decode(ids.SENDER_POOL, pool_id)
    if key is None:
        raise NotFound()
    problems: list[Problem] = []
    _check_name(request.display_name, problems)
    keys = None
    if request.senders is not None:
        keys = await _pool_senders(pool, account_sid, request.senders, problems)
    if problems:
        raise ValidationFailed(problems)
    async with pool.acquire() as conn, conn.transaction():
        row = await store.update_pool(
            conn,
            pool_id=key,
            account_sid=account_sid,
            display_name=request.display_name,
            sender_ids=keys,
            is_default=request.is_default,
            now=now,
        )
        if row is None:
            raise NotFound()
        return await present_pool(conn, account_sid, row)


async def get_pool(pool: asyncpg.Pool, *, account_sid: str, pool_id: str) -> SenderPoolRead:
    key = ids.decode(ids.SENDER_POOL, pool_id)
    row = await store.get_pool(pool, key, account_sid) if key else None
    if row is None:
        raise NotFound()
    return await present_pool(pool, account_sid, row)


async def list_pools(
    pool: asyncpg.Pool, *, account_sid: str, page_size: int, page_token: str | None
) -> SenderPoolsPage:
    start = decode_token(page_token)
    rows = await store.list_pools(pool, account_sid, start, page_size + 1)
    page, next_token, self_token = trim_page(rows, page_size, start, lambda r: r.id)
    return SenderPoolsPage(
        sender_pools=[await present_pool(pool, account_sid, r) for r in page],
        pagination=Pagination(next=next_token, self=self_token),
    )


async def delete_pool(pool: asyncpg.Pool, *, account_sid: str, pool_id: str) -> None:
    key = ids.decode(ids.SENDER_POOL, pool_id)
    if key is None or not await store.delete_pool(pool, key, account_sid):
        raise NotFound()


# Resolving `from` -----------------------------------------------------------------------------


def sender_route(row: store.SenderRow) -> dict[str, str]:
    return {
        "address": row.address,
        "channel": row.channel,
        "senderId": ids.encode(ids.SENDER, row.id),
    }


async def resolve_from(
    pool: asyncpg.Pool | asyncpg.Connection, account_sid: str, sender: SenderIn | None
) -> tuple[list[dict[str, str]], list[Problem]]:
    """The senders a send may use, in priority order, or why `from` names none.

    `{address, channel}` need not be registered (it then has its kind's default rate);
    `{senderId}` names one sender, `{senderPoolId}` a pool; no `from` means the account's
    default pool.
    """
    if sender is None:
        row = await store.default_pool(pool, account_sid)
        if row is None:
            return [], [
                Problem(
                    error_codes.FROM_REQUIRED.code,
                    "'from' is required: this account has no default sender pool",
                    "$.from",
                )
            ]
        return await _pool_routes(pool, account_sid, row), []
    if sender.sender_id is not None:
        key = ids.decode(ids.SENDER, sender.sender_id)
        found = await store.get_sender(pool, key, account_sid) if key else None
        if found is None:
            text = "Unknown senderId" if key else "Malformed senderId"
            return [], [Problem(error_codes.INVALID_FIELD.code, text, "$.from.senderId")]
        return [sender_route(found)], []
    if sender.sender_pool_id is not None:
        key = ids.decode(ids.SENDER_POOL, sender.sender_pool_id)
        pool_row = await store.get_pool(pool, key, account_sid) if key else None
        if pool_row is None:
            text = "Unknown senderPoolId" if key else "Malformed senderPoolId"
            return [], [Problem(error_codes.INVALID_FIELD.code, text, "$.from.senderPoolId")]
        return await _pool_routes(pool, account_sid, pool_row), []
    problems: list[Problem] = []
    address = sender.address or ""
    # A Messaging Service SID alone sends SMS (Twilio's default for a service).
    default_channel = "SMS" if kinds.is_messaging_service(address) else ""
    channel = (sender.channel or default_channel).upper()
    if channel not in CHANNELS:
        problems.append(
            Problem(
                error_codes.INVALID_FIELD.code,
                "from.channel must be one of SMS, WHATSAPP, CONVERSATIONS",
                "$.from.channel",
            )
        )
    if channel == "WHATSAPP":
        address = address.removeprefix("whatsapp:")
    if not address:
        problems.append(
            Problem(error_codes.FROM_REQUIRED.code, "from.address is required", "$.from.address")
        )
    elif not kinds.is_valid_sender_address(address, channel or "SMS"):
        problems.append(
            Problem(
                error_codes.INVALID_FROM.code, error_codes.INVALID_FROM.message, "$.from.address"
            )
        )
    if problems:
        return [], problems
    registered = await store.find_sender(pool, account_sid, channel, address)
    if registered is not None:
        return [sender_route(registered)], []
    return [{"address": address, "channel": channel}], []


async def _pool_routes(
    pool: asyncpg.Pool | asyncpg.Connection, account_sid: str, row: store.PoolRow
) -> list[dict[str, str]]:
    found = await store.senders_by_ids(pool, account_sid, row.sender_ids)
    return [sender_route(found[key]) for key in row.sender_ids if key in found]
