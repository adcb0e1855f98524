"""Registering senders and resolving the sender of a send request."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from schemas.common import Pagination
from schemas.senders import DEFAULT_MPS, MAX_MPS, SenderCreate, SenderRead, SendersPage
from service import ids
from service.clock import rfc3339
from service.errors import CODE_INVALID_FIELD, ApiError, NotFound, Problem, ValidationFailed
from service.pagination import decode_token, trim_page
from service.senders import kinds, store

CHANNELS = ("SMS", "WHATSAPP", "CONVERSATIONS")


class SenderExists(ApiError):
    """This account has registered this address on this channel already."""

    status_code = 409
    code = 90410


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
                CODE_INVALID_FIELD, "channel must be SMS, WHATSAPP or CONVERSATIONS", "$.channel"
            )
        )
    if channel == "WHATSAPP":
        address = address.removeprefix("whatsapp:")
    if channel in CHANNELS and not kinds.is_valid_sender_address(address, channel):
        problems.append(Problem(21212, "Invalid sender address", "$.address"))
    kind = (request.kind or kinds.infer_kind(address, channel)).upper()
    if kind not in DEFAULT_MPS:
        problems.append(
            Problem(
                CODE_INVALID_FIELD,
                "kind must be LONG_CODE, TOLL_FREE, SHORT_CODE, ALPHANUMERIC or WHATSAPP",
                "$.kind",
            )
        )
    mps = request.mps if request.mps is not None else DEFAULT_MPS.get(kind, 1.0)
    if not 0 < mps <= MAX_MPS:
        problems.append(Problem(CODE_INVALID_FIELD, f"mps must be in (0, {MAX_MPS:g}]", "$.mps"))
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


async def resolve_sender_id(
    pool: asyncpg.Pool, account_sid: str, sender_id: str
) -> store.SenderRow | None:
    key = ids.decode(ids.SENDER, sender_id)
    return await store.get_sender(pool, key, account_sid) if key else None
