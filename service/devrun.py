"""`make run`: the whole stack on one machine, in the foreground, until Ctrl-C.

Starts (or reuses) the embedded PostgreSQL and Redis under the dev folder unless DATABASE_URL /
REDIS_URL are set, migrates, makes sure a development account exists, then runs the API
(granian), one worker and the sandbox as child processes and prints how to call them. SIGINT or
SIGTERM stops the children and the embedded servers this run started.

A process that dies once the stack is up (the API, the worker, the sandbox, or an embedded
PostgreSQL or Redis this run started) is reported and started again, the servers on their own
port, after a pause that grows while it keeps dying soon after each start (RESTART_SCHEDULE_S).
The others carry on meanwhile: the API and the worker ride out an outage of either server. A
process that dies while the stack starts stops everything and makes the run fail: that is a
configuration to fix, not a crash to retry.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import asyncpg
import httpx
import msgspec

from service import backoff, db, devstack, migrate
from service.accounts import logic as accounts
from service.settings import Settings, SettingsError, load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SANDBOX_PORT = 8010
# Short enough to watch a message go queued → sent → delivered within a second.
DEFAULT_SANDBOX_CALLBACK_DELAY_MS = 200
DEV_ACCOUNT_NAME = "dev"
ACCOUNT_FILE = "dev-account.json"
READY_TIMEOUT_S = 60.0
# How long each stopping step waits for the children before the next, harder one.
STOP_GRACE_S = 3.0
POLL_INTERVAL_S = 0.1
# Seconds before a dead process starts again, after each death in a row (the last repeats).
RESTART_SCHEDULE_S = (0.5, 1.0, 2.0, 5.0, 10.0)
# A process that ran this long before dying had been working: its next death starts afresh.
RAN_WELL_S = 10.0
SUPERVISE_INTERVAL_S = 0.2
GRANIAN_ARGS = (
    "--interface=asgi",
    "--host=127.0.0.1",
    "--workers=1",
    "--factory",
    "service.asgi:app",
)

SAMPLE_SEND = (
    '{"to":[{"address":"+15558675310","channel":"PHONE"}],'
    '"content":{"text":"Hello from comms"},'
    '"from":{"address":"+15017122661","channel":"SMS"}}'
)


class DevRunError(Exception):
    """The stack cannot start; the message says why and what to change."""


@dataclass
class StopRequest:
    """A signal handler that remembers the first SIGINT/SIGTERM instead of raising."""

    signum: int | None = None

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum

    @property
    def requested(self) -> bool:
        return self.signum is not None


def exit_description(process: subprocess.Popen[bytes]) -> str:
    code = process.returncode
    if code is not None and code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


@dataclass
class Restarts:
    """When a dead process starts again: a pause after its death, from RESTART_SCHEDULE_S,
    longer each time it dies again soon after being started."""

    deaths: int = 0  # in a row
    started_at: float = field(default_factory=time.monotonic)
    due_at: float | None = None  # while it is dead: when it starts again
    rng: random.Random = field(default_factory=random.Random)

    def died(self, now: float) -> float:
        """Schedule the start; the pause in seconds."""
        self.deaths = 1 if now - self.started_at > RAN_WELL_S else self.deaths + 1
        pause = backoff.delay_s(RESTART_SCHEDULE_S, self.deaths, None, (0.0, 0.0), self.rng)
        self.due_at = now + pause
        return pause

    def started(self, now: float) -> None:
        self.started_at = now
        self.due_at = None


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    # Starts it again when it dies (make run); without one, a dead child stays dead.
    start: Callable[[], subprocess.Popen[bytes]] | None = None
    restarts: Restarts = field(default_factory=Restarts)

    @property
    def title(self) -> str:
        return f"the {self.name}"

    @property
    def exit_description(self) -> str:
        return exit_description(self.process)

    def start_again(self) -> None:
        if self.start is None:
            raise RuntimeError("no command to start it with")
        self.process = self.start()


@dataclass
class Server:
    """An embedded PostgreSQL or Redis this run started (one found running is another's)."""

    name: str  # its state file's name in the dev folder
    title: str
    running: devstack.RunningServer
    # Starts it again on its port: the API and the worker were told its URL.
    start: Callable[[], devstack.RunningServer]
    restarts: Restarts = field(default_factory=Restarts)

    @property
    def process(self) -> subprocess.Popen[bytes]:
        assert self.running.process is not None  # started by this run
        return self.running.process

    @property
    def exit_description(self) -> str:
        return exit_description(self.process)

    def start_again(self) -> None:
        self.running = self.start()


@dataclass
class Stack:
    """What this run started, so that exactly that is stopped at the end."""

    dev_root: Path
    servers: list[Server] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)

    def dead_child(self) -> Child | None:
        return next((c for c in self.children if c.process.poll() is not None), None)

    def supervise(self, now: float) -> None:
        """Report each process that died, and start it again once its pause is over."""
        members: list[Server | Child] = [*self.servers, *self.children]
        for member in members:
            restarts = member.restarts
            if member.process.poll() is None:
                continue
            if restarts.due_at is None:
                pause = restarts.died(now)
                _say(
                    f"{member.title} {member.exit_description}; starting it again in {pause:.1f} s"
                )
                continue
            if now < restarts.due_at:
                continue
            try:
                member.start_again()
            except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                restarts.started(now)
                pause = restarts.died(now)
                _say(f"{member.title} did not start ({exc}); trying again in {pause:.1f} s")
                continue
            restarts.started(time.monotonic())
            _say(f"{member.title} is running again")

    def stop(self) -> None:
        stop_children(self.children)
        for server in reversed(self.servers):
            devstack.stop(server.running, self.dev_root, server.name)
        self.children.clear()
        self.servers.clear()


def _say(line: str) -> None:
    print(f"comms run: {line}", file=sys.stderr, flush=True)


def run(dev_root: Path, environ: Mapping[str, str] | None = None) -> int:
    """Run the development stack in the foreground; 0 after Ctrl-C, 1 when something failed."""
    env = dict(os.environ if environ is None else environ)
    stop_request = StopRequest()
    # Handlers replace Python's KeyboardInterrupt (and an inherited "ignore" when started in the
    # background), so a signal always leads to the orderly shutdown below.
    previous = {sig: signal.signal(sig, stop_request) for sig in (signal.SIGINT, signal.SIGTERM)}
    stack = Stack(dev_root)
    try:
        return _run(stack, env, stop_request)
    except (DevRunError, SettingsError, OSError, asyncpg.PostgresError) as exc:
        print(f"comms run: {exc}", file=sys.stderr)
        return 1
    finally:
        if stack.children or stack.servers:
            print("comms run: stopping…", file=sys.stderr, flush=True)
            stack.stop()
            print("comms run: stopped", file=sys.stderr, flush=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(stack: Stack, env: dict[str, str], stop_request: StopRequest) -> int:
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = _embedded(stack, devstack.start_postgres, "pg", "PostgreSQL")
    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = _embedded(stack, devstack.start_redis, "redis", "Redis")
    configured = load_settings(env)
    api_port = configured.api_port
    sandbox_port = _port_setting(env, "SANDBOX_PORT", DEFAULT_SANDBOX_PORT)
    api_url = f"http://127.0.0.1:{api_port}"
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    if not env.get("PROVIDER_BASE_URL"):
        # The sandbox is the provider: it accepts the account the service is given (an .env
        # made for docker compose sets one of its own).
        provider_account = f"{configured.provider_account_sid}:{configured.provider_auth_token}"
        env.setdefault("SANDBOX_ACCOUNTS", provider_account)
    env.setdefault("PUBLIC_BASE_URL", api_url)
    env.setdefault("PROVIDER_BASE_URL", sandbox_url)
    env["SANDBOX_HOST"] = "127.0.0.1"
    env["SANDBOX_PORT"] = str(sandbox_port)
    env.setdefault("SANDBOX_CALLBACK_DELAY_MS", str(DEFAULT_SANDBOX_CALLBACK_DELAY_MS))
    # Conversations and incoming-message webhooks are configured on the provider, not per
    # request.
    env.setdefault("SANDBOX_CONVERSATIONS_WEBHOOK_URL", f"{api_url}/callbacks/twilio/conversations")
    env.setdefault("SANDBOX_INBOUND_WEBHOOK_URL", f"{api_url}/callbacks/twilio/messages/inbound")
    settings = load_settings(env)
    for port, variable in ((api_port, "API_PORT"), (sandbox_port, "SANDBOX_PORT")):
        if _port_in_use(port):
            raise DevRunError(
                f"127.0.0.1:{port} is already in use (another `make run`?); "
                f"set {variable} to a free port"
            )

    account_file = stack.dev_root / ACCOUNT_FILE
    saved = read_account(account_file)
    applied, account = asyncio.run(prepare_database(settings, saved))
    if account != saved:
        save_account(account_file, account)
    if stop_request.requested:
        return 0

    python = sys.executable
    commands = {
        "api": [python, "-m", "granian", *GRANIAN_ARGS, "--port", str(api_port)],
        "worker": [python, "-m", "workers"],
        "sandbox": [python, "-m", "sandbox"],
    }
    for name, command in commands.items():
        start = functools.partial(_start_child, command, env)
        stack.children.append(Child(name, start(), start))

    health = {"api": f"{api_url}/healthz", "sandbox": f"{sandbox_url}/sandbox/health"}
    failure = wait_until_ready(stack, health, stop_request)
    if failure is not None:
        print(f"comms run: {failure}", file=sys.stderr)
        return 1
    if stop_request.requested:
        return 0
    print(banner(settings, sandbox_url, account, applied), flush=True)

    while not stop_request.requested:
        stack.supervise(time.monotonic())
        time.sleep(SUPERVISE_INTERVAL_S)
    return 0


def _start_child(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # A session of its own: Ctrl-C in the terminal reaches only this process, which then
    # stops every child and waits for each (escalating if one hangs), and no child is
    # mistaken for having died while the others are still shutting down.
    return subprocess.Popen(command, env=env, cwd=REPO_ROOT, start_new_session=True)


def _embedded(
    stack: Stack, start: Callable[..., devstack.RunningServer], name: str, title: str
) -> str:
    server = start(stack.dev_root)
    if server.process is not None:  # started now, not found running: ours to stop
        port = urllib.parse.urlsplit(server.url).port
        again = functools.partial(start, stack.dev_root, port=port)
        stack.servers.append(Server(name, title, server, again))
    return server.url


def _port_setting(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name) or str(default)
    try:
        port = int(raw)
    except ValueError:
        raise DevRunError(f"{name} must be a port number, got {raw!r}") from None
    if not 0 < port < 65536:
        raise DevRunError(f"{name} must be a port number, got {raw!r}")
    return port


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def prepare_database(
    settings: Settings, saved: accounts.NewCredentials | None
) -> tuple[list[str], accounts.NewCredentials]:
    """Apply pending migrations; return (names applied now, the development account)."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        applied = await migrate.apply(conn)
    finally:
        await conn.close()
    pool = await db.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        account = await ensure_dev_account(pool, saved)
    finally:
        await pool.close()
    return applied, account


async def ensure_dev_account(
    pool: asyncpg.Pool, saved: accounts.NewCredentials | None
) -> accounts.NewCredentials:
    """The saved account while its credentials still work in this database, else a new one."""
    if saved is not None and saved.auth_token is not None:
        token = base64.b64encode(f"{saved.account_sid}:{saved.auth_token}".encode()).decode()
        found = await accounts.authenticate(pool, accounts.CredentialCache(), f"Basic {token}")
        if found == saved.account_sid:
            return saved
    return await accounts.create_account(pool, DEV_ACCOUNT_NAME)


def read_account(path: Path) -> accounts.NewCredentials | None:
    try:
        return msgspec.json.decode(path.read_bytes(), type=accounts.NewCredentials)
    except (FileNotFoundError, msgspec.DecodeError):
        return None


def save_account(path: Path, account: accounts.NewCredentials) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.json.format(msgspec.json.encode(account)) + b"\n")
    path.chmod(0o600)  # the token is a secret


def wait_until_ready(
    stack: Stack, health: Mapping[str, str], stop_request: StopRequest
) -> str | None:
    """Poll every health URL until all answer 200; the reason when that cannot happen."""
    pending = dict(health)
    deadline = time.monotonic() + READY_TIMEOUT_S
    with httpx.Client(timeout=1.0, trust_env=False) as http:
        while pending and not stop_request.requested:
            dead = stack.dead_child()
            if dead is not None:
                return f"the {dead.name} {dead.exit_description} while starting"
            for name, url in list(pending.items()):
                try:
                    if http.get(url).status_code == 200:
                        del pending[name]
                except httpx.TransportError:
                    pass
            if time.monotonic() > deadline:
                return f"not ready after {READY_TIMEOUT_S:.0f} s: " + ", ".join(pending.values())
            if pending:
                time.sleep(POLL_INTERVAL_S)
    return None


def stop_children(children: list[Child]) -> None:
    """SIGTERM each running child; if one lingers, SIGTERM then SIGKILL its whole process group."""
    running = [child for child in children if child.process.poll() is None]
    for child in running:
        child.process.terminate()
    # granian's main process misses a stop signal that arrives while it is still spawning its
    # worker (it then waits forever); its worker, in the child's process group (the child leads
    # a session of its own), does stop on SIGTERM, and the main process follows.
    for escalation in (signal.SIGTERM, signal.SIGKILL):
        running = _wait_for_exit(running, STOP_GRACE_S)
        for child in running:
            print(
                f"comms run: the {child.name} is still running; "
                f"sending {escalation.name} to its process group",
                file=sys.stderr,
            )
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, escalation)
    for child in running:
        child.process.wait()


def _wait_for_exit(children: list[Child], timeout: float) -> list[Child]:
    """Wait up to timeout for all of them; return those still running."""
    deadline = time.monotonic() + timeout
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
    return [child for child in children if child.process.poll() is None]


def banner(
    settings: Settings,
    sandbox_url: str,
    account: accounts.NewCredentials,
    applied: list[str],
) -> str:
    api = settings.public_base_url.rstrip("/")
    user = f"{account.account_sid}:{account.auth_token}"
    migrations = ", ".join(applied) if applied else "up to date"
    return f"""
comms is running (Ctrl-C stops everything)

  API         {api}   (OpenAPI: {api}/schema/openapi.json)
  sandbox     {sandbox_url}   (accepted sends: {sandbox_url}/sandbox/messages)
  PostgreSQL  {settings.database_url}   (migrations: {migrations})
  Redis       {settings.redis_url}

  account     {account.account_sid}
  token       {account.auth_token}

Send one SMS:

  curl -sS -u {user} -H 'Content-Type: application/json' \\
    -d '{SAMPLE_SEND}' \\
    {api}/v1/Messages

Then follow it with the operationId from the answer:

  curl -sS -u {user} {api}/v1/Messages/Operations/<operationId>
  curl -sS -u {user} '{api}/v1/Messages?operationId=<operationId>'
"""
