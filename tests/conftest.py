"""The test session's real servers: PostgreSQL, Redis, the sandbox and the API on loopback.

PostgreSQL and Redis come from DATABASE_URL / REDIS_URL when set, else they are started
embedded under .devdata/test. Each test gets its own account, so tests never see each other's
rows; Redis is flushed per test.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from arq.worker import Worker
from redis.asyncio import Redis

from sandbox.app import create_app as create_sandbox_app
from sandbox.serving import serve_asgi
from sandbox.settings import SandboxSettings
from service import db, devstack, migrate, queue
from service.accounts import logic as accounts
from service.app import create_app
from service.settings import Settings
from workers import settings as worker_settings

ROOT = Path(__file__).resolve().parent.parent
DEV_ROOT = ROOT / ".devdata" / "test"


@dataclass
class TestClock:
    """Real time unless a test pins it."""

    __test__ = False  # a helper, not a test class

    pinned: datetime | None = None

    def __call__(self) -> datetime:
        return self.pinned or datetime.now(UTC)


@dataclass
class Servers:
    admin_url: str
    redis_url: str
    started: list[tuple[devstack.RunningServer, str]] = field(default_factory=list)


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    admin_url = os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL")
    started: list[tuple[devstack.RunningServer, str]] = []
    # Servers found already running (another session's) are used but left running.
    if not admin_url:
        pg = devstack.start_postgres(DEV_ROOT)
        if pg.process is not None:
            started.append((pg, "pg"))
        admin_url = pg.url
    if not redis_url:
        rd = devstack.start_redis(DEV_ROOT)
        if rd.process is not None:
            started.append((rd, "redis"))
        redis_url = rd.url
    yield Servers(admin_url, redis_url, started)
    for server, name in started:
        devstack.stop(server, DEV_ROOT, name)


def database_url_for(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


async def create_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return database_url_for(admin_url, name)


@pytest.fixture(scope="session")
async def template_url(servers: Servers) -> str:
    """A migrated database that per-test databases are cloned from."""
    url = await create_database(servers.admin_url, f"comms_template_{os.getpid()}")
    conn = await asyncpg.connect(url)
    try:
        await migrate.apply(conn)
    finally:
        await conn.close()
    return url


async def clone_database(servers: Servers, template_url: str, name: str) -> str:
    template = template_url.rpartition("/")[2]
    conn = await asyncpg.connect(servers.admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    return database_url_for(servers.admin_url, name)


@pytest.fixture(scope="session")
async def database_url(servers: Servers, template_url: str) -> str:
    """The database the session's API server uses; tests stay apart by tenant."""
    return await clone_database(servers, template_url, f"comms_test_{os.getpid()}")


_isolated_count = 0


@pytest.fixture
async def isolated(
    servers: Servers, template_url: str, settings: Settings
) -> AsyncIterator[tuple[asyncpg.Pool, Settings]]:
    """A database of the test's own, for tests whose workers claim everything that is due."""
    global _isolated_count
    _isolated_count += 1
    url = await clone_database(servers, template_url, f"comms_iso_{os.getpid()}_{_isolated_count}")
    own = msgspec.structs.replace(settings, database_url=url)
    pool = await db.create_pool(url, min_size=1, max_size=5)
    try:
        yield pool, own
    finally:
        await pool.close()


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(database_url, min_size=1, max_size=10)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
def clock() -> TestClock:
    return TestClock()


@pytest.fixture(scope="session")
def api_port() -> int:
    return devstack.free_port()


@pytest.fixture(scope="session")
def sandbox_settings(api_port: int) -> SandboxSettings:
    # No delays and no per-sender rate: tests wait on /sandbox/drain, never on the clock.
    return SandboxSettings.from_env(
        {
            "SANDBOX_CALLBACK_DELAY_MS": "0",
            "SANDBOX_DEFAULT_MPS": "0",
            # Conversations and incoming-message webhooks are configured on the provider, not
            # per request.
            "SANDBOX_CONVERSATIONS_WEBHOOK_URL": (
                f"http://127.0.0.1:{api_port}/callbacks/twilio/conversations"
            ),
            "SANDBOX_INBOUND_WEBHOOK_URL": (
                f"http://127.0.0.1:{api_port}/callbacks/twilio/messages/inbound"
            ),
        }
    )


@pytest.fixture(scope="session")
async def sandbox_url(sandbox_settings: SandboxSettings) -> AsyncIterator[str]:
    async with serve_asgi(create_sandbox_app(sandbox_settings)) as url:
        yield url


@pytest.fixture(scope="session")
def settings(
    database_url: str,
    servers: Servers,
    api_port: int,
    sandbox_url: str,
    sandbox_settings: SandboxSettings,
) -> Settings:
    account = sandbox_settings.accounts[0]
    account_sid, token = account.sid, account.auth_token
    return Settings(
        database_url=database_url,
        redis_url=servers.redis_url,
        public_base_url=f"http://127.0.0.1:{api_port}",
        environment="test",
        provider_base_url=sandbox_url,
        provider_account_sid=account_sid,
        provider_auth_token=token,
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


@pytest.fixture(scope="session")
async def api_url(settings: Settings, api_port: int, clock: TestClock) -> AsyncIterator[str]:
    async with serve_asgi(create_app(settings, clock=clock), port=api_port) as url:
        yield url


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(settings.redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@dataclass
class Tenant:
    account_sid: str
    auth_token: str

    @property
    def auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.account_sid, self.auth_token)


@pytest.fixture
async def tenant(pool: asyncpg.Pool) -> Tenant:
    created = await accounts.create_account(pool, f"test-{secrets.token_hex(4)}")
    assert created.auth_token is not None
    return Tenant(created.account_sid, created.auth_token)


async def empty_send_queue(pool: asyncpg.Pool) -> None:
    """Earlier tests' messages that no worker sent are set aside, so a worker run in this test
    sends only this test's messages (senders' queues are shared across tenants)."""
    await pool.execute(
        "UPDATE messages SET due_at = NULL, status = 'CANCELED' WHERE due_at IS NOT NULL"
    )


@pytest.fixture
async def client(
    api_url: str, tenant: Tenant, redis: Redis, pool: asyncpg.Pool
) -> AsyncIterator[httpx.AsyncClient]:
    await empty_send_queue(pool)
    async with httpx.AsyncClient(base_url=api_url, auth=tenant.auth, timeout=30) as http:
        yield http


@pytest.fixture
async def anonymous(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        yield http


@pytest.fixture
async def sandbox(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as http:
        await http.post("/sandbox/reset")
        yield http


async def run_worker(settings: Settings, clock: Any = None) -> None:
    """A burst arq worker: runs every queued job, then returns."""
    ctx: dict[str, Any] = {"settings": settings, "clock": clock}
    worker = Worker(
        functions=worker_settings.WorkerSettings.functions,
        redis_settings=queue.redis_settings(settings.redis_url),
        burst=True,
        poll_delay=0,
        on_startup=worker_settings.startup,
        on_shutdown=worker_settings.shutdown,
        job_serializer=queue.serialize_job,
        job_deserializer=queue.deserialize_job,
        ctx=ctx,
        handle_signals=False,
    )
    try:
        await worker.main()
    finally:
        await worker.close()
    assert worker.jobs_failed == 0, "a job failed in the burst worker"


def new_uuid() -> uuid.UUID:
    return uuid.uuid4()
