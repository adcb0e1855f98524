"""A whole stack for one benchmark: embedded PostgreSQL and Redis under .devdata/bench, a fresh
database (empty, or cloned from a preloaded template), and the API, the workers and the sandbox
as processes on fresh ports. Nothing of it runs in the benchmark's own process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from redis import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service import devstack
from service.accounts.logic import NewCredentials
from service.devrun import Child, Stack, StopRequest, prepare_database, wait_until_ready
from service.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
DEV_ROOT = ROOT / ".devdata" / "bench"

# With two or more cores, the sandbox (the measuring instrument of the sending benchmarks) runs
# on the last core at a higher priority, so no other process delays its receive stamps.
_CORES = os.cpu_count() or 1
_INSTRUMENT_CPU = ["taskset", "-c", str(_CORES - 1)] if _CORES > 1 else []


@dataclass
class BenchStack:
    api: str
    sandbox: str
    auth: tuple[str, str]
    database_url: str
    database: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)


def _exit_on_signal(signum: int, _: object) -> None:
    raise SystemExit(128 + signum)


def servers() -> tuple[str, str]:
    """(PostgreSQL admin URL, Redis URL) of the embedded servers, started when absent."""
    pg = devstack.start_postgres(DEV_ROOT)
    redis = devstack.start_redis(DEV_ROOT)
    return pg.url, redis.url


def stop_servers() -> None:
    """Stop the embedded servers under .devdata/bench, when running."""
    for name, start in (("pg", devstack.start_postgres), ("redis", devstack.start_redis)):
        if (DEV_ROOT / f"{name}.state").exists():
            devstack.stop(start(DEV_ROOT), DEV_ROOT, name)


async def fresh_database(admin_url: str, name: str, template: str | None = None) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if template:
            # FILE_COPY: a file-level copy, much faster than WAL-logging every page of a
            # large preloaded template.
            await conn.execute(
                f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY = FILE_COPY'
            )
        else:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return database_url(admin_url, name)


def database_url(admin_url: str, name: str) -> str:
    return admin_url.rpartition("/")[0] + f"/{name}"


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def stack_env(database: str, redis_url: str, api_port: int, sandbox_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database,
        "REDIS_URL": redis_url,
        "API_PORT": str(api_port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
        "PROVIDER_BASE_URL": f"http://127.0.0.1:{sandbox_port}",
        "SANDBOX_PORT": str(sandbox_port),
        "SANDBOX_DEFAULT_MPS": "0",  # the sandbox only records; our limiter is measured
        "LOG_LEVEL": "WARNING",
    }


@contextlib.contextmanager
def bench_stack(
    database: str,
    *,
    workers: int = 1,
    callback_delay_ms: str = "0",
    template: str | None = None,
    account: NewCredentials | None = None,
    env: Mapping[str, str] | None = None,
    keep_database: bool = False,
) -> Iterator[BenchStack]:
    """The whole stack on fresh ports and a fresh database `database` (a clone of `template`
    when given, whose account is `account`); stops every process it started afterwards and
    drops the database unless `keep_database`."""
    stack = Stack(DEV_ROOT)
    # A benchmark stopped with SIGTERM (e.g. by `timeout`) still stops what it started.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    admin_url, redis_url = servers()
    try:
        url = asyncio.run(fresh_database(admin_url, database, template))
        api_port, sandbox_port = devstack.free_port(), devstack.free_port()
        environ = stack_env(url, redis_url, api_port, sandbox_port)
        environ["SANDBOX_CALLBACK_DELAY_MS"] = callback_delay_ms
        environ.update(env or {})
        Redis.from_url(redis_url).flushdb()
        settings = load_settings(environ)
        _, credentials = asyncio.run(prepare_database(settings, account))
        python = sys.executable
        commands = {
            # The sandbox is the measuring instrument of the sending benchmarks: a starved
            # sandbox would stamp requests late and in bunches, so it runs at a higher priority.
            "sandbox": [*_INSTRUMENT_CPU, "nice", "-n", "-10", python, "-m", "sandbox"],
            "api": [
                python,
                "-m",
                "granian",
                "--interface=asgi",
                "--host=127.0.0.1",
                "--workers=1",
                "--factory",
                "service.asgi:app",
                "--port",
                str(api_port),
            ],
            **{f"worker-{i}": [python, "-m", "workers"] for i in range(workers)},
        }
        for name, command in commands.items():
            process = subprocess.Popen(
                command,
                env=environ,
                cwd=ROOT,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=open(DEV_ROOT / f"{name}.log", "wb"),  # noqa: SIM115
            )
            stack.children.append(Child(name, process))
        failure = wait_until_ready(
            stack,
            {
                "api": f"http://127.0.0.1:{api_port}/healthz",
                "sandbox": f"http://127.0.0.1:{sandbox_port}/sandbox/health",
            },
            StopRequest(),
        )
        if failure:
            raise RuntimeError(failure)
        assert credentials.auth_token is not None
        yield BenchStack(
            api=f"http://127.0.0.1:{api_port}",
            sandbox=f"http://127.0.0.1:{sandbox_port}",
            auth=(credentials.account_sid, credentials.auth_token),
            database_url=url,
            database=database,
            processes={child.name: child.process for child in stack.children},
        )
    finally:
        stack.stop()
        if not keep_database:
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                asyncio.run(drop_database(admin_url, database))
