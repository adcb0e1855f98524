"""The credential cache and its watcher (service/accounts/watcher.py): PostgreSQL's notification
of a change empties the cache; while nobody listens, the cache keeps nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from service.accounts import logic as accounts
from service.accounts.watcher import APPLICATION, CredentialWatcher
from service.settings import Settings
from tests.support.tenants import Tenant

DIGEST = accounts.hash_secret("secret")


@pytest.fixture
async def watched(
    settings: Settings,
) -> AsyncIterator[tuple[accounts.CredentialCache, CredentialWatcher]]:
    cache = accounts.CredentialCache()
    watcher = CredentialWatcher(settings.database_url, cache, timeout_s=5)
    watcher.start()
    try:
        await asyncio.wait_for(watcher.listening.wait(), 10)
        yield cache, watcher
    finally:
        await watcher.stop()


async def until(condition: object, what: str) -> None:
    """Wait (5 s at most) for a notification's effect."""
    assert callable(condition)
    loop = asyncio.get_running_loop()
    give_up = loop.time() + 5
    while not condition():
        assert loop.time() < give_up, what
        await asyncio.sleep(0.01)


def test_a_lookup_begun_before_a_change_stores_nothing() -> None:
    cache = accounts.CredentialCache()
    before = cache.generation
    cache.forget_all()  # a change announced while the lookup ran
    cache.put("AC1", DIGEST, "AC1", before)
    assert cache.get("AC1", DIGEST) is None
    cache.put("AC1", DIGEST, "AC1", cache.generation)
    assert cache.get("AC1", DIGEST) == "AC1"


def test_a_switched_off_cache_keeps_nothing() -> None:
    cache = accounts.CredentialCache()
    cache.put("AC1", DIGEST, "AC1")
    cache.switch_off()
    assert cache.get("AC1", DIGEST) is None
    cache.put("AC1", DIGEST, "AC1")
    assert cache.get("AC1", DIGEST) is None
    cache.switch_on()
    cache.put("AC1", DIGEST, "AC1")
    assert cache.get("AC1", DIGEST) == "AC1"


async def test_without_postgresql_the_cache_stays_off() -> None:
    cache = accounts.CredentialCache()
    watcher = CredentialWatcher("postgresql://postgres@127.0.0.1:9/none", cache, timeout_s=1)
    watcher.start()
    try:
        cache.put("AC1", DIGEST, "AC1")
        assert cache.get("AC1", DIGEST) is None
        assert not watcher.listening.is_set()
    finally:
        await watcher.stop()


async def test_a_change_to_any_credential_empties_the_cache(
    watched: tuple[accounts.CredentialCache, CredentialWatcher], pool: asyncpg.Pool, tenant: Tenant
) -> None:
    cache, _ = watched
    cache.put("AC1", DIGEST, "AC1")
    assert cache.get("AC1", DIGEST) == "AC1"
    await accounts.set_account_disabled(pool, tenant.account_sid, True)
    await until(lambda: cache.get("AC1", DIGEST) is None, "the disable was not heard")

    cache.put("AC1", DIGEST, "AC1")
    key = await accounts.create_api_key(pool, tenant.account_sid)
    assert key.api_key_sid is not None
    assert cache.get("AC1", DIGEST) == "AC1"  # a new key changes nobody's credentials
    await accounts.revoke_api_key(pool, key.api_key_sid)
    await until(lambda: cache.get("AC1", DIGEST) is None, "the revocation was not heard")


@pytest.mark.own_stack
async def test_a_lost_connection_switches_the_cache_off_until_it_listens_again(
    watched: tuple[accounts.CredentialCache, CredentialWatcher], pool: asyncpg.Pool
) -> None:
    cache, watcher = watched
    cache.put("AC1", DIGEST, "AC1")
    # Every watcher on this (own) database: the test's and its API's.
    terminated = await pool.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE application_name = $1 AND datname = current_database()",
        APPLICATION,
    )
    assert terminated >= 1
    await until(lambda: cache.get("AC1", DIGEST) is None, "the cache stayed on")
    await asyncio.wait_for(watcher.listening.wait(), 10)
    cache.put("AC1", DIGEST, "AC1")
    assert cache.get("AC1", DIGEST) == "AC1"
