"""Tenants: accounts made through the service's own account logic, with their API key."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import asyncpg
import httpx

from service.accounts import logic as accounts


@dataclass
class Tenant:
    account_sid: str
    auth_token: str

    @property
    def auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.account_sid, self.auth_token)


async def new_tenant(pool: asyncpg.Pool, label: str = "test") -> Tenant:
    """A new account (named `label-<random>`) and its auth token."""
    created = await accounts.create_account(pool, f"{label}-{secrets.token_hex(4)}")
    assert created.auth_token is not None
    return Tenant(created.account_sid, created.auth_token)


async def other_tenant(pool: asyncpg.Pool) -> Tenant:
    """A second account, for checking that one tenant never sees another's rows."""
    return await new_tenant(pool, "other")
