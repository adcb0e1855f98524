"""Administering accounts and keys (service/accounts/logic.py): listing, disabling, rotating a
token and revoking a key, each seen by the credential check and by a running API at once."""

from __future__ import annotations

import asyncio
import base64

import asyncpg
import httpx
import pytest

from service.accounts import logic as accounts
from service.accounts.watcher import APPLICATION
from tests.support.tenants import Tenant


def basic(username: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()


async def check(pool: asyncpg.Pool, username: str, secret: str) -> str | None:
    """The credential check with a cache of its own (nothing remembered between calls)."""
    return await accounts.authenticate(pool, accounts.CredentialCache(), basic(username, secret))


async def new_key(pool: asyncpg.Pool, account_sid: str) -> tuple[str, str]:
    created = await accounts.create_api_key(pool, account_sid)
    assert created.api_key_sid is not None
    assert created.api_key_secret is not None
    return created.api_key_sid, created.api_key_secret


async def test_a_disabled_account_and_its_keys_stop_authenticating(
    pool: asyncpg.Pool, tenant: Tenant
) -> None:
    key, secret = await new_key(pool, tenant.account_sid)

    disabled = await accounts.set_account_disabled(pool, tenant.account_sid, True)
    assert disabled.disabled_at is not None
    assert await check(pool, tenant.account_sid, tenant.auth_token) is None
    assert await check(pool, key, secret) is None
    # Disabling again keeps the first time.
    again = await accounts.set_account_disabled(pool, tenant.account_sid, True)
    assert again.disabled_at == disabled.disabled_at

    enabled = await accounts.set_account_disabled(pool, tenant.account_sid, False)
    assert enabled.disabled_at is None
    assert await check(pool, tenant.account_sid, tenant.auth_token) == tenant.account_sid
    assert await check(pool, key, secret) == tenant.account_sid


async def test_a_rotated_token_replaces_the_old_one(pool: asyncpg.Pool, tenant: Tenant) -> None:
    key, secret = await new_key(pool, tenant.account_sid)
    rotated = await accounts.rotate_auth_token(pool, tenant.account_sid)
    assert rotated.account_sid == tenant.account_sid
    assert rotated.auth_token is not None
    assert rotated.auth_token != tenant.auth_token
    assert await check(pool, tenant.account_sid, tenant.auth_token) is None
    assert await check(pool, tenant.account_sid, rotated.auth_token) == tenant.account_sid
    assert await check(pool, key, secret) == tenant.account_sid  # keys are not the token


async def test_a_revoked_key_stops_authenticating_and_stays_listed(
    pool: asyncpg.Pool, tenant: Tenant
) -> None:
    kept, kept_secret = await new_key(pool, tenant.account_sid)
    revoked, revoked_secret = await new_key(pool, tenant.account_sid)

    listed = await accounts.revoke_api_key(pool, revoked)
    assert listed.revoked_at is not None
    assert await check(pool, revoked, revoked_secret) is None
    assert await check(pool, kept, kept_secret) == tenant.account_sid
    assert await check(pool, tenant.account_sid, tenant.auth_token) == tenant.account_sid

    keys = {k.sid: k for k in await accounts.list_api_keys(pool, tenant.account_sid)}
    assert set(keys) == {kept, revoked}
    assert keys[revoked].revoked_at == listed.revoked_at
    assert keys[kept].revoked_at is None
    mine = [a for a in await accounts.list_accounts(pool) if a.sid == tenant.account_sid]
    assert [a.keys for a in mine] == [1]


async def test_unknown_sids_are_errors(pool: asyncpg.Pool) -> None:
    unknown_account, unknown_key = "AC" + "0" * 32, "SK" + "0" * 32
    with pytest.raises(accounts.UnknownAccount):
        await accounts.set_account_disabled(pool, unknown_account, True)
    with pytest.raises(accounts.UnknownAccount):
        await accounts.rotate_auth_token(pool, unknown_account)
    with pytest.raises(accounts.UnknownAccount):
        await accounts.list_api_keys(pool, unknown_account)
    with pytest.raises(accounts.UnknownApiKey):
        await accounts.revoke_api_key(pool, unknown_key)


async def answers(http: httpx.AsyncClient, auth: tuple[str, str], status: int) -> None:
    """Wait (5 s at most) until GET /v1/Messages with these credentials answers `status`: the
    change reaches the API as a notification, a moment after its commit."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + 5
    while (got := (await http.get("/v1/Messages", auth=auth)).status_code) != status:
        assert loop.time() < give_up, f"still {got}, not {status}"
        await asyncio.sleep(0.02)


async def test_the_api_forgets_credentials_that_changed(
    anonymous: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    """The API caches credentials it checked (30 s); a change still counts on the next
    requests, not half a minute later."""
    listening = await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE application_name = $1 AND datname = current_database()",
        APPLICATION,
    )
    assert listening >= 1, "the API's credential watcher is not listening"
    token = (tenant.account_sid, tenant.auth_token)
    key = await new_key(pool, tenant.account_sid)
    for auth in (token, key):
        assert (await anonymous.get("/v1/Messages", auth=auth)).status_code == 200  # cached

    await accounts.set_account_disabled(pool, tenant.account_sid, True)
    await answers(anonymous, token, 401)
    await answers(anonymous, key, 401)

    await accounts.set_account_disabled(pool, tenant.account_sid, False)
    await answers(anonymous, token, 200)
    await accounts.revoke_api_key(pool, key[0])
    await answers(anonymous, key, 401)

    rotated = await accounts.rotate_auth_token(pool, tenant.account_sid)
    assert rotated.auth_token is not None
    await answers(anonymous, token, 401)
    await answers(anonymous, (tenant.account_sid, rotated.auth_token), 200)
