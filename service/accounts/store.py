"""Accounts and API keys in PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from service import sql

Q = sql.load(__file__)


class AccountRow(msgspec.Struct, frozen=True):
    sid: str
    name: str
    created_at: datetime


class ApiKeyRow(msgspec.Struct, frozen=True):
    sid: str
    account_sid: str
    created_at: datetime


class CredentialRow(msgspec.Struct, frozen=True):
    account_sid: str
    secret_hash: bytes


async def insert_account(
    conn: asyncpg.Connection | asyncpg.Pool, sid: str, name: str, token_hash: bytes
) -> AccountRow:
    row = await conn.fetchrow(Q.insert_account, sid, name, token_hash)
    return AccountRow(**dict(row))


async def insert_api_key(
    conn: asyncpg.Connection | asyncpg.Pool, sid: str, account_sid: str, secret_hash: bytes
) -> ApiKeyRow:
    row = await conn.fetchrow(Q.insert_api_key, sid, account_sid, secret_hash)
    return ApiKeyRow(**dict(row))


async def account_exists(conn: asyncpg.Connection | asyncpg.Pool, sid: str) -> bool:
    return bool(await conn.fetchval(Q.account_exists, sid))


async def credential_hash(
    conn: asyncpg.Connection | asyncpg.Pool, username: str
) -> CredentialRow | None:
    row = await conn.fetchrow(Q.credential_hash, username)
    return CredentialRow(**dict(row)) if row else None
