"""The test session's real servers and what a test gets from them (see tests/README.md).

By default a test shares the session's stack: one database (tests stay apart by tenant), one
API server on it, one clock. A test marked `@pytest.mark.own_stack` (every test that runs a
worker) gets a stack of its own instead: a database cloned from the migrated template and an
API server on it. Either way it asks for the same fixtures (`pool`, `settings`, `api_url`,
`clock`, `tenant`, `client`), and they come from its stack. Redis and the sandbox are shared;
Redis is flushed per test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from sandbox.app import create_app as create_sandbox_app
from sandbox.serving import serve_asgi
from sandbox.settings import SandboxSettings
from service import db, devstack
from service.app import create_app
from service.settings import Settings
from tests.support import servers as databases
from tests.support import stack as stacks
from tests.support.clock import TestClock
from tests.support.servers import Servers, start_servers, stop_servers
from tests.support.stack import Stack, sandbox_webhooks, settings_for_tests
from tests.support.tenants import Tenant, new_tenant


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "own_stack: the test gets a database (cloned from the migrated template) and an API"
        " server of its own; every test that runs a worker needs one",
    )


# --- the session's servers and shared stack -----------------------------------------------------


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    started = start_servers()
    yield started
    stop_servers(started)


@pytest.fixture(scope="session")
async def template_url(servers: Servers) -> AsyncIterator[str]:
    """A migrated database that the others are cloned from."""
    url = await databases.migrated_database(servers.admin_url, databases.TEMPLATE_DATABASE)
    yield url
    await databases.drop_databases(
        servers.admin_url, [databases.SHARED_DATABASE, databases.TEMPLATE_DATABASE]
    )


@pytest.fixture(scope="session")
def api_port() -> int:
    """The shared API's port, known before it starts: the sandbox's settings name it."""
    return devstack.free_port()


@pytest.fixture(scope="session")
def sandbox_settings(api_port: int) -> SandboxSettings:
    # No delays and no per-sender rate: tests wait on /sandbox/drain, never on the clock.
    webhooks = sandbox_webhooks(f"http://127.0.0.1:{api_port}")
    return SandboxSettings.from_env(
        {
            "SANDBOX_CALLBACK_DELAY_MS": "0",
            "SANDBOX_DEFAULT_MPS": "0",
            # Conversations and incoming-message webhooks are configured on the provider, not
            # per request (an own stack points them at its API while its test runs).
            "SANDBOX_CONVERSATIONS_WEBHOOK_URL": webhooks["conversations_webhook_url"],
            "SANDBOX_INBOUND_WEBHOOK_URL": webhooks["inbound_webhook_url"],
        }
    )


@pytest.fixture(scope="session")
async def sandbox_url(sandbox_settings: SandboxSettings) -> AsyncIterator[str]:
    async with serve_asgi(create_sandbox_app(sandbox_settings)) as url:
        yield url


@pytest.fixture(scope="session")
async def shared_stack(
    servers: Servers,
    template_url: str,
    api_port: int,
    sandbox_url: str,
    sandbox_settings: SandboxSettings,
) -> AsyncIterator[Stack]:
    url = await databases.clone_database(servers.admin_url, template_url, databases.SHARED_DATABASE)
    settings = settings_for_tests(
        database_url=url,
        redis_url=servers.redis_url,
        api_url=f"http://127.0.0.1:{api_port}",
        sandbox_url=sandbox_url,
        sandbox_settings=sandbox_settings,
    )
    clock = TestClock()
    pool = await db.create_pool(url, min_size=1, max_size=10)
    try:
        async with serve_asgi(create_app(settings, clock=clock), port=api_port) as api_url:
            yield Stack(pool=pool, settings=settings, api_url=api_url, clock=clock)
    finally:
        await pool.close()


# --- a test's stack: the shared one, or its own ---------------------------------------------------


@pytest.fixture
async def own_stack(
    servers: Servers,
    template_url: str,
    shared_stack: Stack,
    redis: Redis,
    sandbox: httpx.AsyncClient,
) -> AsyncIterator[Stack]:
    """A database and API server of the test's own (used through the `own_stack` mark)."""
    async with stacks.own_stack(servers.admin_url, template_url, shared_stack.settings) as stack:
        # The provider's own webhooks (incoming messages, conversations) go to this API too.
        await sandbox.post("/sandbox/config", json=sandbox_webhooks(stack.api_url))
        try:
            yield stack
        finally:
            await sandbox.post("/sandbox/config", json=sandbox_webhooks(shared_stack.api_url))


@pytest.fixture
def stack(request: pytest.FixtureRequest) -> Stack:
    """The test's stack: its own when it is marked `own_stack` (or asks for `isolated`), else
    the session's."""
    own = request.node.get_closest_marker("own_stack") is not None
    own = own or "isolated" in request.fixturenames
    chosen: Stack = request.getfixturevalue("own_stack" if own else "shared_stack")
    return chosen


@pytest.fixture
def isolated(own_stack: Stack) -> tuple[asyncpg.Pool, Settings]:
    """An own stack's pool and settings, for tests written before the `own_stack` mark (new
    tests take the mark and ask for `pool` and `settings`)."""
    return own_stack.pool, own_stack.settings


@pytest.fixture
def pool(stack: Stack) -> asyncpg.Pool:
    return stack.pool


@pytest.fixture
def settings(stack: Stack) -> Settings:
    return stack.settings


@pytest.fixture
def api_url(stack: Stack) -> str:
    return stack.api_url


@pytest.fixture
def clock(stack: Stack) -> TestClock:
    """The clock of the test's API (a test that pins it sets it back)."""
    return stack.clock


# --- per test -----------------------------------------------------------------------------------


@pytest.fixture
async def redis(servers: Servers) -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(servers.redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
async def tenant(pool: asyncpg.Pool) -> Tenant:
    return await new_tenant(pool)


@pytest.fixture
async def client(api_url: str, tenant: Tenant, redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    """The API, as the test's tenant."""
    async with httpx.AsyncClient(base_url=api_url, auth=tenant.auth, timeout=30) as http:
        yield http


@pytest.fixture
async def anonymous(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        yield http


@pytest.fixture
async def sandbox(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox's /sandbox/ control API, reset first."""
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as http:
        await http.post("/sandbox/reset")
        yield http
