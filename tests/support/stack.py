"""A stack: a database, settings pointing at it, an API server on it, and that API's clock.

The session has one shared stack (tests there stay apart by tenant). A test that runs a worker
gets a stack of its own: a worker claims everything that is due in its database, so on the
shared one it would send other tests' messages. Its settings point the provider's status
callbacks at its own API (public_base_url), so its receipts land in its own database.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import msgspec

from sandbox.serving import serve_asgi
from sandbox.settings import SandboxSettings
from service import db, devstack
from service.app import create_app
from service.settings import Settings
from tests.support.clock import TestClock
from tests.support.servers import OWN_DATABASE_PREFIX, clone_database, drop_databases

CONVERSATIONS_WEBHOOK_PATH = "/callbacks/twilio/conversations"
INBOUND_WEBHOOK_PATH = "/callbacks/twilio/messages/inbound"

_own_stacks = itertools.count(1)


@dataclass
class Stack:
    pool: asyncpg.Pool
    settings: Settings
    api_url: str
    clock: TestClock


def settings_for_tests(
    *,
    database_url: str,
    redis_url: str,
    api_url: str,
    sandbox_url: str,
    sandbox_settings: SandboxSettings,
) -> Settings:
    """The service's settings for tests, on the given database, API address and sandbox."""
    account = sandbox_settings.accounts[0]
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        public_base_url=api_url,
        environment="test",
        provider_base_url=sandbox_url,
        provider_account_sid=account.sid,
        provider_auth_token=account.auth_token,
        db_pool_min=1,
        db_pool_max=10,
        log_format="console",
        log_level="WARNING",
        # Unregistered senders are not held to carrier rates here; rate tests register theirs.
        unregistered_sender_mps=10_000,
        # No request quota: how many requests a test gets through a second depends on the
        # machine, so only the quota's own tests (test_quotas.py) set one.
        api_requests_per_second=0,
    )


def sandbox_webhooks(api_url: str) -> dict[str, str]:
    """The provider-side webhooks (set on the provider, not per request) of the API at api_url,
    as /sandbox/config fields."""
    return {
        "conversations_webhook_url": api_url + CONVERSATIONS_WEBHOOK_PATH,
        "inbound_webhook_url": api_url + INBOUND_WEBHOOK_PATH,
    }


@asynccontextmanager
async def own_stack(admin_url: str, template_url: str, shared: Settings) -> AsyncIterator[Stack]:
    """A clone of the migrated template, and an API server of its own on it; the database is
    dropped afterwards. Everything else (Redis, the sandbox) is the shared one's."""
    name = f"{OWN_DATABASE_PREFIX}{next(_own_stacks)}"
    url = await clone_database(admin_url, template_url, name)
    try:
        # The port is chosen first: the settings (public_base_url) must name it before the
        # app is made.
        port = devstack.free_port()
        settings = msgspec.structs.replace(
            shared, database_url=url, public_base_url=f"http://127.0.0.1:{port}"
        )
        clock = TestClock()
        pool = await db.create_pool(url, min_size=1, max_size=settings.db_pool_max)
        try:
            async with serve_asgi(create_app(settings, clock=clock), port=port) as api_url:
                yield Stack(pool=pool, settings=settings, api_url=api_url, clock=clock)
        finally:
            await pool.close()
    finally:
        await drop_databases(admin_url, [name])
