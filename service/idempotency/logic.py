"""Idempotency keys: replay the first answer, refuse a different body, refuse while in flight."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from service import error_codes
from service.errors import ApiError, Problem, ValidationFailed
from service.idempotency import store

KEEP_FOR = timedelta(hours=24)
MAX_KEY_LENGTH = 255


class KeyReusedWithOtherBody(ApiError):
    """This Idempotency-Key was used with a different request body."""

    error = error_codes.KEY_REUSED


class KeyInFlight(ApiError):
    """A request with this Idempotency-Key is still being processed; retry shortly."""

    error = error_codes.KEY_IN_FLIGHT
    headers = {"Retry-After": "1"}


@dataclass(frozen=True)
class Claim:
    """A key this request owns; complete it in the operation's transaction, or release it."""

    account_sid: str
    key: str


def request_digest(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


async def begin(
    pool: asyncpg.Pool, account_sid: str, key: str, body: bytes, now: datetime
) -> Claim | uuid.UUID:
    """Own the key (a Claim), or the operation a completed first request created (replay)."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            [
                Problem(
                    error_codes.INVALID_FIELD.code,
                    f"Idempotency-Key must be 1..{MAX_KEY_LENGTH} characters",
                    "$.headers.Idempotency-Key",
                )
            ]
        )
    digest = request_digest(body)
    for _ in range(2):
        if await store.claim_key(pool, account_sid, key, digest, now):
            return Claim(account_sid, key)
        existing = await store.get_key(pool, account_sid, key)
        if existing is None:
            continue  # released by a failed first request meanwhile: try to claim again
        if existing.created_at < now - KEEP_FOR:
            await store.drop_expired_key(pool, account_sid, key, now - KEEP_FOR)
            continue
        if existing.request_hash != digest:
            raise KeyReusedWithOtherBody()
        if existing.state != "DONE" or existing.operation_id is None:
            raise KeyInFlight()
        return existing.operation_id
    raise KeyInFlight()


async def complete(conn: asyncpg.Connection, claim: Claim, operation_id: uuid.UUID) -> None:
    await store.complete_key(conn, claim.account_sid, claim.key, operation_id)


async def release(pool: asyncpg.Pool, claim: Claim) -> None:
    await store.release_key(pool, claim.account_sid, claim.key)
