"""PostgreSQL hung, restarted or cutting every connection: a request never hangs and never
answers 500. While PostgreSQL does not answer, requests answer 503 (20503) with Retry-After
within DB_TIMEOUT_S; once it answers again they succeed, with no restart of the app. A worker's
job fails instead of hanging, and the next one sends.

Each test runs a PostgreSQL of its own: stopping the session's would stall every other test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import secrets
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from sandbox.serving import serve_asgi
from service import db, devstack, error_codes, migrate, queue
from service.accounts import logic as accounts
from service.app import create_app
from service.callbacks.signature import compute_signature
from service.settings import Settings
from tests.support.tenants import Tenant
from tests.support.workers import WorkerProcesses
from workers import settings as worker_settings

T = TypeVar("T")

# Small, so the test is quick; a statement may run three quarters of it (service/db.py).
DB_TIMEOUT_S = 2.0
# Far above DB_TIMEOUT_S: only a hang takes this long, and it fails the test.
HANG_BOUND_S = 30.0

SEND = {
    "to": [{"address": "+15558675310", "channel": "PHONE"}],
    "content": {"text": "hi"},
    "from": {"address": "+15017122661", "channel": "SMS"},
}


def as_postgres_user() -> dict[str, Any]:
    """Popen arguments that run a PostgreSQL binary as devstack's system user (it refuses root)."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(devstack.PG_SYSTEM_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid}


def children_of(pid: int) -> list[int]:
    """The processes whose parent is pid (Linux /proc)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended meanwhile
            continue
        # pid (comm) state ppid …: comm may hold spaces and parentheses, the last ")" ends it.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry.name))
    return children


@dataclass
class PrivatePostgres:
    """A PostgreSQL server of the test's own, which it may stop, hang and restart."""

    server: devstack.RunningServer
    root: Path

    @property
    def url(self) -> str:
        return self.server.url

    @contextmanager
    def hung(self) -> Iterator[None]:
        """Every PostgreSQL process stopped (SIGSTOP): connections stay open, nothing answers.

        The postmaster first, so that it forks no process after its children are listed (each
        child is a process group of its own: PostgreSQL's children call setsid()).
        """
        os.kill(self.server.pid, signal.SIGSTOP)
        stopped = [self.server.pid]
        try:
            for child in children_of(self.server.pid):
                os.kill(child, signal.SIGSTOP)
                stopped.append(child)
            yield
        finally:
            for pid in reversed(stopped):
                os.kill(pid, signal.SIGCONT)

    def shut_down(self) -> None:
        """A fast shutdown: every backend ends, clients' connections are closed."""
        assert self.server.process is not None
        self.server.process.send_signal(signal.SIGINT)
        self.server.process.wait(timeout=30)

    def start_again(self) -> None:
        """Start it again on the same data and port, with the command line it was started by."""
        command = shlex.split((self.root / "pg" / "postmaster.opts").read_text())
        with (self.root / "pg.log").open("ab") as log:
            process = subprocess.Popen(
                command,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
                **as_postgres_user(),
            )
        self.server = devstack.RunningServer(self.server.url, process.pid, process)

    async def wait_until_ready(self) -> None:
        """Until the server starting again accepts connections (recovery done): a bounded poll."""
        deadline = time.monotonic() + HANG_BOUND_S
        while True:
            try:
                conn = await asyncpg.connect(self.url, timeout=HANG_BOUND_S)
            except (OSError, asyncpg.CannotConnectNowError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
                continue
            await conn.close()
            return


@pytest.fixture
async def postgres() -> AsyncIterator[PrivatePostgres]:
    # Not under tmp_path: PostgreSQL runs as another user when we are root, and each pytest
    # session that starts (another engineer's) closes /tmp/pytest-of-root to other users again.
    root = Path(tempfile.mkdtemp(prefix="comms-outage-"))
    server = await asyncio.to_thread(devstack.start_postgres, root)
    private = PrivatePostgres(server, root)
    try:
        conn = await asyncpg.connect(server.url)
        try:
            await migrate.apply(conn)
        finally:
            await conn.close()
        yield private
    finally:
        await asyncio.to_thread(devstack.stop, private.server, root, "pg")
        devstack.discard(root)


@dataclass
class Stack:
    url: str
    settings: Settings
    tenant: Tenant
    # An account whose credentials the API has not seen: its first request looks them up.
    newcomer: Tenant


@pytest.fixture
async def stack(
    settings: Settings, postgres: PrivatePostgres, redis: Redis
) -> AsyncIterator[Stack]:
    """The API on the private PostgreSQL, with DB_TIMEOUT_S, and two accounts in it."""
    port = devstack.free_port()
    own = msgspec.structs.replace(
        settings,
        database_url=postgres.url,
        public_base_url=f"http://127.0.0.1:{port}",
        db_timeout_s=DB_TIMEOUT_S,
        db_pool_min=1,
        db_pool_max=4,
    )
    pool = await db.create_pool(postgres.url, min_size=1, max_size=1)
    try:
        tenants = [await accounts.create_account(pool, f"outage-{secrets.token_hex(4)}")]
        tenants.append(await accounts.create_account(pool, f"outage-{secrets.token_hex(4)}"))
    finally:
        await pool.close()
    tenant, newcomer = (Tenant(t.account_sid, t.auth_token or "") for t in tenants)
    async with serve_asgi(create_app(own), port=port) as url:
        yield Stack(url, own, tenant, newcomer)


async def within_bound(awaitable: Awaitable[T]) -> T:
    """Its result, or a failed test (not a blocked one) when it takes over HANG_BOUND_S."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=HANG_BOUND_S)
    if not done:
        task.cancel()
        pytest.fail(f"no answer within {HANG_BOUND_S} s")
    return task.result()


async def answer(http: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    """The response, read unless it is an event stream (which may not end), then closed."""
    response = await within_bound(http.send(request, stream=True))
    try:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            await within_bound(response.aread())
    finally:
        await response.aclose()
    return response


def signed_receipt(settings: Settings) -> dict[str, Any]:
    """A provider status callback (for a SID nobody knows: stored, to be matched later)."""
    sid = "SM" + secrets.token_hex(16)
    form = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": "AC" + "a" * 32}
    path = "/callbacks/twilio/messages/status"
    signature = compute_signature(
        settings.provider_auth_token, settings.callbacks_url + path, form.items()
    )
    return {"url": path, "data": form, "headers": {"X-Twilio-Signature": signature}}


def requests_touching_the_database(
    http: httpx.AsyncClient, stack: Stack, operation_id: str
) -> dict[str, httpx.Request]:
    operation = f"/v1/Messages/Operations/{operation_id}"
    # The newcomer's credentials are not cached: the auth guard asks PostgreSQL.
    newcomer = httpx.BasicAuth(stack.newcomer.account_sid, stack.newcomer.auth_token)
    return {
        "operation": http.build_request("GET", operation),
        "send": http.build_request("POST", "/v1/Messages", json=SEND),
        "list": http.build_request("GET", "/v1/Messages", params={"operationId": operation_id}),
        "events": http.build_request("GET", f"{operation}/Events"),
        "credentials lookup": next(newcomer.auth_flow(http.build_request("GET", "/v1/Senders"))),
        "receipt": http.build_request("POST", **signed_receipt(stack.settings)),
    }


def assert_unavailable(name: str, response: httpx.Response) -> None:
    assert response.status_code == 503, (name, response.status_code, response.text)
    assert int(response.headers["retry-after"]) >= 1, name
    [error] = response.json()["errors"]
    assert error["code"] == error_codes.SERVICE_UNAVAILABLE.code, name
    assert error["infoUrl"] == "https://www.twilio.com/docs/api/errors/20503", name
    assert error["message"], name


SUCCESS = {
    "operation": 200,
    "send": 202,
    "list": 200,
    "events": 200,
    "credentials lookup": 200,
    "receipt": 204,
}


async def send_one(http: httpx.AsyncClient) -> str:
    accepted = await within_bound(http.post("/v1/Messages", json=SEND))
    assert accepted.status_code == 202, accepted.text
    operation_id: str = accepted.json()["operationId"]
    return operation_id


async def test_requests_answer_503_while_postgres_is_hung_then_succeed(
    stack: Stack, postgres: PrivatePostgres
) -> None:
    async with httpx.AsyncClient(base_url=stack.url, auth=stack.tenant.auth) as http:
        operation_id = await send_one(http)
        with postgres.hung():
            # At once, more than the pool holds: some wait for a connection, some for an answer.
            requests = requests_touching_the_database(http, stack, operation_id)
            answers = await asyncio.gather(*(answer(http, r) for r in requests.values()))
            for name, response in zip(requests, answers, strict=True):
                assert_unavailable(name, response)
            ready = await within_bound(http.get("/readyz"))
            assert ready.status_code == 503

        # The same requests, once PostgreSQL answers again: the pool has recovered by itself.
        requests = requests_touching_the_database(http, stack, operation_id)
        for name, request in requests.items():
            response = await answer(http, request)
            assert response.status_code == SUCCESS[name], (name, response.text)
        assert (await within_bound(http.get("/readyz"))).status_code == 200


async def test_a_statement_that_runs_too_long_answers_503(
    stack: Stack, postgres: PrivatePostgres
) -> None:
    """PostgreSQL slow: here a lock another session holds. The statement is cancelled at its
    time, the request answers 503, and the same pool serves the next request."""
    async with httpx.AsyncClient(base_url=stack.url, auth=stack.tenant.auth) as http:
        operation_id = await send_one(http)
        operation = http.build_request("GET", f"/v1/Messages/Operations/{operation_id}")
        admin = await asyncpg.connect(postgres.url)
        try:
            async with admin.transaction():
                await admin.execute("LOCK TABLE operations IN ACCESS EXCLUSIVE MODE")
                assert_unavailable("operation", await answer(http, operation))
        finally:
            await admin.close()
        assert (await answer(http, operation)).status_code == 200


async def answers_until_success(http: httpx.AsyncClient, operation_id: str) -> list[int]:
    """The statuses of a request repeated until it succeeds (three tries at most)."""
    statuses: list[int] = []
    for _ in range(3):
        response = await answer(
            http, http.build_request("GET", f"/v1/Messages/Operations/{operation_id}")
        )
        statuses.append(response.status_code)
        if response.status_code == 200:
            break
        assert_unavailable("operation", response)
    return statuses


async def test_requests_succeed_again_after_postgres_restarts(
    stack: Stack, postgres: PrivatePostgres
) -> None:
    async with httpx.AsyncClient(base_url=stack.url, auth=stack.tenant.auth) as http:
        operation_id = await send_one(http)
        await asyncio.to_thread(postgres.shut_down)
        down = await answer(
            http, http.build_request("GET", f"/v1/Messages/Operations/{operation_id}")
        )
        assert_unavailable("operation while down", down)
        await asyncio.to_thread(postgres.start_again)
        await postgres.wait_until_ready()

        statuses = await answers_until_success(http, operation_id)
        assert statuses[-1] == 200, statuses  # every earlier one a 503
        await send_one(http)


async def test_requests_succeed_again_after_every_connection_is_cut(
    stack: Stack, postgres: PrivatePostgres
) -> None:
    async with httpx.AsyncClient(base_url=stack.url, auth=stack.tenant.auth) as http:
        operation_id = await send_one(http)
        admin = await asyncpg.connect(postgres.url)
        try:
            cut = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()
        assert cut >= 1  # the app's pool had a connection open

        statuses = await answers_until_success(http, operation_id)
        assert statuses[-1] == 200, statuses  # every earlier one a 503
        await send_one(http)


async def test_a_worker_job_fails_while_postgres_is_hung_and_the_next_one_sends(
    stack: Stack, postgres: PrivatePostgres
) -> None:
    async with httpx.AsyncClient(base_url=stack.url, auth=stack.tenant.auth) as http:
        operation_id = await send_one(http)
    redis = await queue.connect(stack.settings.redis_url)
    ctx: dict[str, Any] = {"settings": stack.settings, "redis": redis}
    await worker_settings.startup(ctx)
    try:
        with postgres.hung(), pytest.raises(db.UNAVAILABLE_ERRORS) as raised:
            await within_bound(worker_settings.send_due(ctx))
        assert db.is_unavailable(raised.value)

        # The next tick's job, once PostgreSQL answers: the message goes.
        assert await within_bound(worker_settings.send_due(ctx)) == 1
    finally:
        await worker_settings.shutdown(ctx)
        await redis.aclose()
    async with httpx.AsyncClient(base_url=stack.url, auth=stack.tenant.auth) as http:
        page = await within_bound(http.get("/v1/Messages", params={"operationId": operation_id}))
        [message] = page.json()["messages"]
        detail = await within_bound(http.get(f"/v1/Messages/{message['id']}"))
    # The provider took it (its SID is the attempt's id); receipts may still be on their way.
    [attempt] = detail.json()["attempts"]
    assert attempt["id"].startswith("SM"), attempt
    assert attempt["error"] is None, attempt


async def read_to_the_end(lines: AsyncIterator[str]) -> None:
    with contextlib.suppress(httpx.RemoteProtocolError):  # an event stream cut short
        async for _ in lines:
            pass


async def test_an_open_event_stream_ends_when_postgres_hangs(
    stack: Stack, postgres: PrivatePostgres
) -> None:
    """Past its headers a stream cannot answer 503: it is cut short instead of hanging, and the
    client reconnects with Last-Event-ID once PostgreSQL answers."""
    async with httpx.AsyncClient(base_url=stack.url, auth=stack.tenant.auth) as http:
        operation_id = await send_one(http)
        events = f"/v1/Messages/Operations/{operation_id}/Events"
        async with http.stream("GET", events) as stream:
            assert stream.status_code == 200
            lines = stream.aiter_lines()
            first = await within_bound(anext(lines))
            assert first.startswith("id: ")
            with postgres.hung():
                await within_bound(read_to_the_end(lines))

        resumed = http.build_request("GET", events, headers={"Last-Event-ID": first[4:]})
        assert (await answer(http, resumed)).status_code == 200


async def test_a_worker_started_while_postgres_is_down_waits_for_it(
    stack: Stack, postgres: PrivatePostgres, sandbox: httpx.AsyncClient, tmp_path: Path
) -> None:
    """A worker process (re)started during an outage neither exits nor spins: it tries again
    with pauses, and sends once PostgreSQL is back."""
    async with httpx.AsyncClient(base_url=stack.url, auth=stack.tenant.auth) as http:
        await send_one(http)
    postgres.shut_down()
    workers = WorkerProcesses(stack.settings, tmp_path / "worker.log")
    worker = workers.start()
    try:
        deadline = time.monotonic() + HANG_BOUND_S
        while workers.text().count("PostgreSQL unavailable at start-up") < 2:
            assert worker.poll() is None, workers.tail()
            assert time.monotonic() < deadline, workers.tail()
            await asyncio.sleep(0.05)

        postgres.start_again()
        await postgres.wait_until_ready()
        deadline = time.monotonic() + HANG_BOUND_S
        while not [
            m
            for m in (await sandbox.get("/sandbox/messages")).json()["messages"]
            if m["to"] == "+15558675310"  # SEND's recipient
        ]:
            assert worker.poll() is None, workers.tail()
            assert time.monotonic() < deadline, workers.tail()
            await asyncio.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGTERM)
        await within_bound(asyncio.to_thread(worker.wait))
    assert worker.returncode == 0, workers.tail()
