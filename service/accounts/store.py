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


class AccountListing(msgspec.Struct, frozen=True):
    """An account as administrators see it (the CLI's `accounts list`)."""

    sid: str
    name: str
    created_at: datetime
    disabled_at: datetime | None
    keys: int  # API keys not revoked


class ApiKeyListing(msgspec.Struct, frozen=True):
    sid: str
    account_sid: str
    created_at: datetime
    revoked_at: datetime | None


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


async def list_accounts(conn: asyncpg.Connection | asyncpg.Pool) -> list[AccountListing]:
    return [AccountListing(**dict(row)) for row in await conn.fetch(Q.list_accounts)]


async def set_account_disabled(
    conn: asyncpg.Connection | asyncpg.Pool, sid: str, disabled: bool
) -> AccountListing | None:
    row = await conn.fetchrow(Q.set_account_disabled, sid, disabled)
    return AccountListing(**dict(row)) if row else None


async def replace_auth_token(
    conn: asyncpg.Connection | asyncpg.Pool, sid: str, token_hash: bytes
) -> bool:
    return await conn.fetchval(Q.replace_auth_token, sid, token_hash) is not None


async def list_api_keys(
    conn: asyncpg.Connection | asyncpg.Pool, account_sid: str | None
) -> list[ApiKeyListing]:
    return [ApiKeyListing(**dict(row)) for row in await conn.fetch(Q.list_api_keys, account_sid)]


async def revoke_api_key(conn: asyncpg.Connection | asyncpg.Pool, sid: str) -> ApiKeyListing | None:
    row = await conn.fetchrow(Q.revoke_api_key, sid)
    return ApiKeyListing(**dict(row)) if row else None
