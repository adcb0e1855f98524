"""Chaos: a fault injected into a whole running stack while it sends; the provider's ledger judges.

A `Stack` is real processes on loopback, all started here under one folder and stopped at the
end: an embedded PostgreSQL and Redis, the sandbox, the API (granian) and two workers. A run
accepts one operation through the API and injects its scenario's fault once a random share of
the recipients (seeded) has reached the sandbox. It is over when every message is handed over
or failed with a reason and the operation is COMPLETED, or at a deadline. Then:

- lost: recipients the sandbox never got whose message did not fail with a reason (a message
  still waiting at the deadline counts: that is a hang);
- sent twice: sends beyond the first per recipient, from the sandbox's ledger;
- stats: the operation's stats from the API must equal its messages' statuses in PostgreSQL;
- recovery: the longest stretch without a send from the moment the fault began until the last
  send of the run (how long sending stopped; sends already paced in memory go on through a
  database or Redis outage, so this is not the length of the fault).

Only processes this module started are signalled, and only loopback addresses are used.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from sandbox.settings import SandboxSettings
from service import devstack, ids, migrate
from service.accounts import logic as accounts
from tests.support.servers import create_database

ROOT = Path(__file__).resolve().parents[2]
SENDER = "+15017122999"
# Claims come back 8 s after a worker dies; no call starts in the last 3 + 2 s of a claim.
WORKER_ENV = {
    "CLAIM_LEASE_S": "8",
    "PROVIDER_TIMEOUT_S": "3",
    "CLAIM_HORIZON_S": "1",
    "UNREGISTERED_SENDER_MPS": "400",
    "DB_TIMEOUT_S": "2",
    "LOG_LEVEL": "WARNING",
    "ENVIRONMENT": "test",
    "API_REQUESTS_PER_SECOND": "0",
}
RUN_DEADLINE_S = 180.0
# The application_name of the harness's own connections, which faults aimed at the service
# leave alone.
JUDGE = "chaos-judge"
# Long enough for a new worker process to be up and taking jobs.
READY_S = 3.0


class Stack:
    """The whole service as processes, on ports of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = root / "processes.log"
        self.pg: devstack.RunningServer | None = None
        self.redis: devstack.RunningServer | None = None
        self.redis_port = 0
        self.sandbox: subprocess.Popen[bytes] | None = None
        self.api: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.env: dict[str, str] = {}
        self.database_url = ""
        self.api_url = ""
        self.sandbox_url = ""

    async def start(self, workers: int = 2) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.pg = devstack.start_postgres(self.root)
        self.redis = devstack.start_redis(self.root)
        self.redis_port = int(self.redis.url.rsplit(":", 1)[1].split("/")[0])
        self.database_url = await _fresh_database(self.pg.url, "comms_chaos")
        api_port, sandbox_port = devstack.free_port(), devstack.free_port()
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        account = SandboxSettings().accounts[0]
        self.env = {
            **os.environ,
            **WORKER_ENV,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            "PUBLIC_BASE_URL": self.api_url,
            "PROVIDER_BASE_URL": self.sandbox_url,
            "PROVIDER_ACCOUNT_SID": account.sid,
            "PROVIDER_AUTH_TOKEN": account.auth_token,
            "SANDBOX_HOST": "127.0.0.1",
            "SANDBOX_PORT": str(sandbox_port),
            "SANDBOX_CALLBACK_DELAY_MS": "0",
            "SANDBOX_DEFAULT_MPS": "0",
        }
        self.sandbox = self._spawn([sys.executable, "-m", "sandbox"])
        self.api = self._spawn(
            [
                sys.executable,
                "-m",
                "granian",
                "--interface=asgi",
                "--host=127.0.0.1",
                "--workers=1",
                "--factory",
                f"--port={api_port}",
                "service.asgi:app",
            ]
        )
        await _wait_until_up(f"{self.sandbox_url}/sandbox/health")
        await _wait_until_up(f"{self.api_url}/healthz")
        for _ in range(workers):
            self.start_worker()

    def _spawn(self, command: list[str]) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as sink:
            return subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start_worker(self) -> subprocess.Popen[bytes]:
        worker = self._spawn([sys.executable, "-m", "workers"])
        self.workers.append(worker)
        return worker

    def live_workers(self) -> list[subprocess.Popen[bytes]]:
        return [w for w in self.workers if w.poll() is None]

    def kill_redis(self) -> None:
        assert self.redis is not None
        os.kill(self.redis.pid, signal.SIGKILL)
        if self.redis.process is not None:
            self.redis.process.wait()
        (self.root / "redis.state").unlink(missing_ok=True)

    def start_redis(self) -> None:
        self.redis = devstack.start_redis(self.root, port=self.redis_port)

    def postgres_pids(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, ...)."""
        assert self.pg is not None
        pids = [self.pg.pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, ValueError):
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    if int(fields[1]) == self.pg.pid:
                        pids.append(int(entry.name))
        return pids

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def stop(self) -> None:
        for process in [*self.workers, self.api, self.sandbox]:
            if process is not None:
                # Its whole session: granian's worker processes too.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self.pg is not None:
            for pid in self.postgres_pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            devstack.stop(self.pg, self.root, "pg")
        if self.redis is not None:
            with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
                devstack.stop(self.redis, self.root, "redis")


async def _fresh_database(admin_url: str, name: str) -> str:
    url = await create_database(admin_url, name)
    conn = await asyncpg.connect(url)
    try:
        await migrate.apply(conn)
    finally:
        await conn.close()
    return url


async def _wait_until_up(url: str, deadline_s: float = 60.0) -> None:
    give_up = time.monotonic() + deadline_s
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            if time.monotonic() > give_up:
                raise RuntimeError(f"{url} did not come up")
            await asyncio.sleep(0.1)


class Ledger:
    """The sandbox's accepted sends from our sender, read as they arrive, each stamped with
    when it was first seen here."""

    def __init__(self, sandbox_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=sandbox_url, timeout=10)
        self.after = -1
        self.seen: list[tuple[float, str]] = []
        self.grown = asyncio.Condition()

    async def follow(self) -> None:
        """Poll every 20 ms until cancelled, so that each send is stamped within that of its
        arrival whatever the run is doing meanwhile (a fault takes seconds to inject)."""
        while True:
            with contextlib.suppress(httpx.HTTPError):
                await self.poll()
            await asyncio.sleep(0.02)

    async def reached(self, count: float) -> None:
        """Until at least `count` sends have arrived (while follow runs)."""
        async with self.grown:
            await self.grown.wait_for(lambda: len(self.seen) >= count)

    async def poll(self) -> None:
        answer = (await self.http.get("/sandbox/messages", params={"after": self.after})).json()
        now = time.monotonic()
        for entry in answer["messages"]:
            self.after = max(self.after, entry["index"])
            if entry["from"] == SENDER:
                self.seen.append((now, entry["to"]))
        async with self.grown:
            self.grown.notify_all()

    def longest_gap_after(self, moment: float) -> float:
        """The longest time without a new send, from `moment` to the last send."""
        times = [moment, *sorted(at for at, _ in self.seen if at >= moment)]
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)

    async def reset(self) -> None:
        await self.http.post("/sandbox/reset")
        self.after = -1
        self.seen = []


@dataclass
class RunResult:
    recipients: int
    lost: int
    sent_twice: int
    stats_match: bool
    recovery_s: float | None
    hung: int = 0


@dataclass
class Run:
    """One operation through the stack, with its fault."""

    stack: Stack
    ledger: Ledger
    pool: asyncpg.Pool
    auth: tuple[str, str]
    rng: random.Random
    recipients: int
    number: int
    fault_began: float | None = None
    notes: list[str] = field(default_factory=list)

    def addresses(self) -> list[str]:
        return [f"+1555{self.number % 1000:03d}{n:04d}" for n in range(self.recipients)]

    async def accept(self) -> str:
        body = {
            "to": [{"address": a, "channel": "PHONE"} for a in self.addresses()],
            "content": {"text": "chaos"},
            "from": {"address": SENDER, "channel": "SMS"},
        }
        async with httpx.AsyncClient(base_url=self.stack.api_url, auth=self.auth, timeout=60) as h:
            answer = await h.post("/v1/Messages", json=body)
        if answer.status_code != 202:
            raise RuntimeError(f"accept answered {answer.status_code}: {answer.text[:300]}")
        operation_id: str = answer.json()["operationId"]
        return operation_id

    async def settle(self, operation_id: str, started: float) -> tuple[bool, int]:
        """Until every message is handed over or failed and the operation completed; whether
        it got there by the deadline, and how many messages were still waiting."""
        uid = _operation_uuid(operation_id)
        waiting = -1
        while time.monotonic() - started < RUN_DEADLINE_S:
            # The judge's own connections live through the faults too (a restart, a stop).
            with contextlib.suppress(
                OSError,
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                asyncpg.exceptions.InternalClientError,
            ):
                waiting = await self.pool.fetchval(
                    "SELECT count(*) FROM messages WHERE operation_id = $1 AND due_at IS NOT NULL",
                    uid,
                    timeout=5,
                )
                status = await self.pool.fetchval(
                    "SELECT status FROM operations WHERE id = $1", uid, timeout=5
                )
                if waiting == 0 and status == "COMPLETED":
                    return True, 0
            await asyncio.sleep(0.1)
        return False, waiting

    async def stats_match(self, operation_id: str) -> bool:
        """The API's stats equal the messages' statuses, once receipts stop arriving."""
        uid = _operation_uuid(operation_id)
        await self.ledger.http.post("/sandbox/drain", params={"timeout": 30})
        async with httpx.AsyncClient(base_url=self.stack.api_url, auth=self.auth, timeout=30) as h:
            for _ in range(100):
                stats = (await h.get(f"/v1/Messages/Operations/{operation_id}")).json()["stats"]
                rows = await self.pool.fetch(
                    "SELECT status, count(*) AS n FROM messages WHERE operation_id = $1"
                    " GROUP BY status",
                    uid,
                )
                counted = {row["status"].lower(): row["n"] for row in rows}
                expected = {status: counted.get(status, 0) for status in _STATUSES}
                if {s: stats[s] for s in _STATUSES} == expected and stats["total"] == sum(
                    counted.values()
                ):
                    return True
                await asyncio.sleep(0.1)
        self.notes.append(f"stats {stats} != messages {counted}")
        return False

    async def verdict(self, operation_id: str, finished: bool, waiting: int) -> RunResult:
        await self.ledger.poll()
        got = Counter(to for _, to in self.ledger.seen)
        uid = _operation_uuid(operation_id)
        failed_with_reason = {
            row["address"]
            for row in await self.pool.fetch(
                "SELECT address FROM messages WHERE operation_id = $1"
                " AND status = 'FAILED' AND error_code IS NOT NULL",
                uid,
            )
        }
        lost = sum(1 for a in self.addresses() if got[a] == 0 and a not in failed_with_reason)
        twice = sum(n - 1 for n in got.values() if n > 1)
        recovery = None
        if self.fault_began is not None:
            recovery = self.ledger.longest_gap_after(self.fault_began)
        match = await self.stats_match(operation_id) if finished else False
        return RunResult(
            self.recipients, lost, twice, match, recovery, hung=waiting if not finished else 0
        )


def _operation_uuid(operation_id: str) -> uuid.UUID:
    value = ids.decode(ids.OPERATION, operation_id)
    assert value is not None, operation_id
    return value


_STATUSES = (
    "scheduled",
    "queued",
    "sent",
    "delivered",
    "read",
    "undelivered",
    "failed",
    "canceled",
)

Fault = Callable[[Run], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: Fault
    # The fault is injected once this share of the recipients has arrived (drawn per run).
    at_share: tuple[float, float] = (0.1, 0.7)
    # Set for the whole run instead (provider faults).
    throughout: bool = False


async def run_once(
    stack: Stack, scenario: Scenario, recipients: int, number: int, seed: int
) -> tuple[RunResult, list[str]]:
    """One run of a scenario on a stack that is up; the stack is left up for the next."""
    stack.workers = stack.live_workers()
    while len(stack.live_workers()) < 2:
        stack.start_worker()
    ledger = Ledger(stack.sandbox_url)
    pool = await asyncpg.create_pool(
        stack.database_url,
        min_size=1,
        max_size=3,
        server_settings={"application_name": JUDGE},
    )
    try:
        await ledger.reset()
        created = await accounts.create_account(pool, f"chaos-{number}")
        assert created.auth_token is not None
        run = Run(
            stack,
            ledger,
            pool,
            (created.account_sid, created.auth_token),
            random.Random(seed),
            recipients,
            number,
        )
        share = run.rng.uniform(*scenario.at_share)
        if scenario.throughout:
            await scenario.fault(run)
        following = asyncio.create_task(ledger.follow())
        try:
            started = time.monotonic()
            operation_id = await run.accept()
            if scenario.throughout:
                run.fault_began = started
            else:
                await asyncio.wait_for(ledger.reached(share * recipients), RUN_DEADLINE_S)
                run.fault_began = time.monotonic()
                await scenario.fault(run)
            finished, waiting = await run.settle(operation_id, started)
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
        result = await run.verdict(operation_id, finished, waiting)
        return result, run.notes
    finally:
        await ledger.http.post("/sandbox/config", json=_NO_FAULTS)
        await ledger.http.aclose()
        await pool.close()


_NO_FAULTS = {"rate_429": 0.0, "rate_5xx": 0.0, "rate_lost": 0.0, "latency_ms": 0}


async def _wait_exit(process: subprocess.Popen[bytes], deadline_s: float = 60.0) -> None:
    give_up = time.monotonic() + deadline_s
    while process.poll() is None:
        if time.monotonic() > give_up:
            process.kill()
        await asyncio.sleep(0.05)


async def worker_sigkill(run: Run) -> None:
    """A worker killed at once, mid-send (its claims come back when their leases end); a
    replacement is started, as a supervisor would."""
    victim = run.rng.choice(run.stack.live_workers())
    victim.send_signal(signal.SIGKILL)
    await _wait_exit(victim)
    run.stack.start_worker()


async def worker_sigterm(run: Run) -> None:
    """A rolling deploy: each worker in turn gets a replacement, then SIGTERM."""
    for old in list(run.stack.live_workers()):
        run.stack.start_worker()
        # A deploy waits for the new one to be ready, and a worker not up yet dies of a SIGTERM
        # (having claimed nothing): the old one goes once its replacement is surely up.
        await asyncio.sleep(READY_S)
        old.send_signal(signal.SIGTERM)
        await _wait_exit(old)
        if old.returncode != 0:
            run.notes.append(f"a SIGTERMed worker exited with {old.returncode}")


async def redis_restart(run: Run) -> None:
    """Redis killed, down for two seconds, started again empty on the same port."""
    run.stack.kill_redis()
    await asyncio.sleep(2.0)
    run.stack.start_redis()


async def redis_flushall(run: Run) -> None:
    """Every key gone: pacer leases, rate windows, the job queue."""
    assert run.stack.redis is not None
    from redis.asyncio import Redis

    client: Redis = Redis.from_url(run.stack.redis.url)
    try:
        await client.flushall()
    finally:
        await client.aclose()


async def postgres_terminate(run: Run) -> None:
    """Every connection of the service to the database dropped (pg_terminate_backend)."""
    conn = await asyncpg.connect(run.stack.database_url)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND application_name <> $1",
            JUDGE,
        )
    finally:
        await conn.close()


def postgres_sigstop(pause_s: float) -> Fault:
    async def fault(run: Run) -> None:
        """Every PostgreSQL process stopped (SIGSTOP), then continued."""
        pids = run.stack.postgres_pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(pause_s)
        finally:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)

    fault.__doc__ = f"Every PostgreSQL process stopped (SIGSTOP) for {pause_s:g} s."
    return fault


async def provider_faults(run: Run) -> None:
    """For the whole run, the provider answers 10% of calls 429 and 10% 5xx, and takes 25%
    of the messages but answers only after the worker gave up waiting (a lost answer)."""
    config = {
        "rate_429": 0.1,
        "rate_5xx": 0.1,
        "rate_lost": 0.25,
        "lost_answer_ms": 5_000,
        "retry_after_s": 1,
        "seed": run.rng.randrange(1 << 30),
    }
    answer = await run.ledger.http.post("/sandbox/config", json=config)
    answer.raise_for_status()


def scenarios(pause_s: float = 10.0) -> list[Scenario]:
    return [
        Scenario("workers SIGKILLed", worker_sigkill),
        Scenario("workers SIGTERMed (rolling deploy)", worker_sigterm),
        Scenario("Redis killed and restarted", redis_restart),
        Scenario("Redis FLUSHALL", redis_flushall),
        Scenario("PostgreSQL connections terminated", postgres_terminate),
        Scenario(f"PostgreSQL stopped {pause_s:g} s", postgres_sigstop(pause_s)),
        Scenario(
            "provider faults (20% 429/5xx, 25% lost answers)", provider_faults, throughout=True
        ),
    ]


@dataclass
class Row:
    scenario: str
    runs: int = 0
    recipients: int = 0
    lost: int = 0
    sent_twice: int = 0
    stats_mismatches: int = 0
    hung_runs: int = 0
    longest_recovery_s: float | None = None
    notes: list[str] = field(default_factory=list)

    def add(self, result: RunResult, notes: list[str]) -> None:
        self.runs += 1
        self.recipients += result.recipients
        self.lost += result.lost
        self.sent_twice += result.sent_twice
        self.stats_mismatches += 0 if result.stats_match else 1
        self.hung_runs += 1 if result.hung else 0
        if result.recovery_s is not None:
            self.longest_recovery_s = max(self.longest_recovery_s or 0.0, result.recovery_s)
        self.notes.extend(notes)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.sent_twice or self.stats_mismatches or self.hung_runs)


def table(rows: list[Row]) -> str:
    lines = [
        "| scenario | runs | recipients | lost | sent twice | stats wrong | longest recovery |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        recovery = "-" if row.longest_recovery_s is None else f"{row.longest_recovery_s:.1f} s"
        lines.append(
            f"| {row.scenario} | {row.runs} | {row.recipients} | {row.lost} | {row.sent_twice} "
            f"| {row.stats_mismatches} | {recovery} |"
        )
    return "\n".join(lines)


async def run_scenarios(
    root: Path, chosen: list[Scenario], runs: int, recipients: int, seed: int = 1
) -> list[Row]:
    """Each scenario `runs` times, one after another, on one stack: a fault must leave the
    stack able to take the next one (a restarted Redis, terminated connections...)."""
    rows = [Row(scenario.name) for scenario in chosen]
    stack = Stack(root)
    number = 0
    try:
        await stack.start()
        for scenario, row in zip(chosen, rows, strict=True):
            for _ in range(runs):
                number += 1
                result, notes = await run_once(
                    stack, scenario, recipients, number, seed * 100_003 + number
                )
                row.add(result, notes)
                recovery = (
                    "" if result.recovery_s is None else f", recovery {result.recovery_s:.1f} s"
                )
                print(
                    f"  {scenario.name} run {row.runs}: lost {result.lost}, twice "
                    f"{result.sent_twice}, stats {'ok' if result.stats_match else 'MISMATCH'}"
                    f"{recovery}",
                    flush=True,
                )
    except BaseException:
        print(stack.tail(), file=sys.stderr)
        raise
    finally:
        stack.stop()
    return rows
