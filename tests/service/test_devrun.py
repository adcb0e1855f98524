"""`make run` (service.devrun): the development account, the whole stack's start, restarts of
what dies, and stop."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
import sys
from pathlib import Path

import asyncpg
import httpx
import pytest

from service import devstack
from service.accounts import logic as accounts
from service.devrun import ensure_dev_account
from service.settings import Settings
from tests.support.servers import ROOT

# ---------------------------------------------------------------- the development account


async def test_a_new_account_when_none_was_saved(pool: asyncpg.Pool) -> None:
    created = await ensure_dev_account(pool, None)
    assert created.auth_token is not None
    secret = f"{created.account_sid}:{created.auth_token}".encode()
    header = "Basic " + base64.b64encode(secret).decode()
    assert await accounts.authenticate(pool, accounts.CredentialCache(), header) == (
        created.account_sid
    )


async def test_the_saved_account_is_kept_while_it_works(pool: asyncpg.Pool) -> None:
    saved = await ensure_dev_account(pool, None)
    assert await ensure_dev_account(pool, saved) == saved


async def test_a_saved_account_that_no_longer_works_is_replaced(pool: asyncpg.Pool) -> None:
    saved = await ensure_dev_account(pool, None)
    stale = accounts.NewCredentials(account_sid=saved.account_sid, auth_token="not-the-token")
    fresh = await ensure_dev_account(pool, stale)
    assert fresh.account_sid != saved.account_sid
    gone = accounts.NewCredentials(account_sid="AC" + "0" * 32, auth_token="whatever")
    assert (await ensure_dev_account(pool, gone)).account_sid != gone.account_sid


# ---------------------------------------------------------------- .env.example


def test_env_example_documents_every_variable() -> None:
    documented = set(
        re.findall(r"^#?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    service = {name.upper() for name in Settings.__struct_fields__}
    sandbox = set(re.findall(r'"(SANDBOX_[A-Z0-9_]+)"', (ROOT / "sandbox/settings.py").read_text()))
    assert sandbox, "no SANDBOX_ variables found in sandbox/settings.py"
    assert service | sandbox <= documented, sorted((service | sandbox) - documented)


# ---------------------------------------------------------------- the stack


def child_pids(pid: int) -> set[int]:
    """The processes whose parent is pid (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid …: comm may hold spaces, so split after its closing parenthesis.
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def start_stack(
    settings: Settings,
    dev_root: Path,
    stderr_path: Path,
    *,
    embedded_redis: bool = False,
    **extra: str,
) -> tuple[asyncio.subprocess.Process, int]:
    """`make run` in a process of its own, on the test's servers (or, with embedded_redis, on
    a Redis it starts under dev_root)."""
    api_port = devstack.free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "API_PORT": str(api_port),
        "SANDBOX_PORT": str(devstack.free_port()),
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    for inherited in ("PUBLIC_BASE_URL", "PROVIDER_BASE_URL", "CALLBACK_BASE_URL"):
        env.pop(inherited, None)
    if embedded_redis:
        del env["REDIS_URL"]
    code = (
        "from pathlib import Path; from service.devrun import run; "
        f"raise SystemExit(run(Path({str(dev_root)!r})))"
    )
    with stderr_path.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    return process, api_port


async def read_banner(process: asyncio.subprocess.Process) -> str:
    """Everything printed up to the banner's last line (the one listing an operation's messages)."""
    assert process.stdout is not None
    lines = []
    while True:
        line = (await process.stdout.readline()).decode()
        assert line, "the stack stopped before printing its banner"
        lines.append(line)
        if "/v1/Messages?operationId=<operationId>" in line:
            return "".join(lines)


@pytest.mark.own_stack
async def test_the_stack_starts_serves_and_stops_on_sigint(
    settings: Settings, tmp_path: Path
) -> None:
    process, api_port = await start_stack(settings, tmp_path, tmp_path / "stderr.log")
    try:
        banner = await read_banner(process)
        children = child_pids(process.pid)
        sid = re.search(r"^  account\s+(AC[0-9a-f]{32})$", banner, re.M)
        token = re.search(r"^  token\s+(\S+)$", banner, re.M)
        assert sid, banner
        assert token, banner
        assert f"-u {sid[1]}:{token[1]}" in banner
        api = f"http://127.0.0.1:{api_port}"
        async with httpx.AsyncClient(base_url=api, auth=(sid[1], token[1]), timeout=10) as http:
            listed = await http.get("/v1/Messages")
            assert listed.status_code == 200, listed.text
            sent = await http.post(
                "/v1/Messages",
                json={
                    "to": [{"address": "+15558675310", "channel": "PHONE"}],
                    "content": {"text": "Hello from comms"},
                    "from": {"address": "+15017122661", "channel": "SMS"},
                },
            )
            assert sent.status_code == 202, sent.text
        saved = (tmp_path / "dev-account.json").read_text()
        assert sid[1] in saved
        assert token[1] in saved
        assert len(children) == 3, children
    finally:
        process.send_signal(signal.SIGINT)
        await process.communicate()

    assert process.returncode == 0, (tmp_path / "stderr.log").read_text()
    assert not [pid for pid in children if alive(pid)]
    assert "comms run: stopped" in (tmp_path / "stderr.log").read_text()


@pytest.mark.own_stack
async def test_a_child_that_dies_at_start_stops_the_stack(
    settings: Settings, tmp_path: Path
) -> None:
    stderr_path = tmp_path / "stderr.log"
    process, _ = await start_stack(settings, tmp_path, stderr_path, SANDBOX_ACCOUNTS="malformed")
    await process.communicate()
    assert process.returncode == 1
    stderr = stderr_path.read_text()
    assert "comms run: the sandbox exited with code 1 while starting" in stderr
    assert "comms run: stopped" in stderr


def child_running(parent: int, *command: str) -> int:
    """The pid of parent's child whose command line holds these words in order."""
    for pid in child_pids(parent):
        try:
            argv = (Path("/proc") / str(pid) / "cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        joined = "\0".join(argv)
        if "\0".join(command) in joined:
            return pid
    raise AssertionError(f"no child of {parent} runs {command}")


async def wait_for_line(stderr_path: Path, line: str, process: asyncio.subprocess.Process) -> None:
    """Poll the stack's stderr for a line; fail if the stack ends or after a generous deadline."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + 60
    while line not in (stderr := await asyncio.to_thread(stderr_path.read_text)):
        assert process.returncode is None, stderr
        assert loop.time() < give_up, f"no {line!r} in:\n{stderr}"
        await asyncio.sleep(0.05)


@pytest.mark.own_stack
async def test_processes_that_die_are_started_again(settings: Settings, tmp_path: Path) -> None:
    stderr_path = tmp_path / "stderr.log"
    process, api_port = await start_stack(settings, tmp_path, stderr_path, embedded_redis=True)
    try:
        banner = await read_banner(process)
        sid = re.search(r"^  account\s+(AC[0-9a-f]{32})$", banner, re.M)
        token = re.search(r"^  token\s+(\S+)$", banner, re.M)
        sandbox = re.search(r"^  sandbox\s+(http://\S+)", banner, re.M)
        assert sid, banner
        assert token, banner
        assert sandbox, banner
        redis_pid, redis_port = (tmp_path / "redis.state").read_text().split()

        os.kill(int(redis_pid), signal.SIGKILL)
        os.kill(child_running(process.pid, "-m", "workers"), signal.SIGKILL)
        await wait_for_line(stderr_path, "comms run: Redis was killed by SIGKILL", process)
        await wait_for_line(stderr_path, "comms run: the worker was killed by SIGKILL", process)
        await wait_for_line(stderr_path, "comms run: Redis is running again", process)
        await wait_for_line(stderr_path, "comms run: the worker is running again", process)
        new_pid, new_port = (tmp_path / "redis.state").read_text().split()
        assert new_pid != redis_pid
        assert new_port == redis_port

        # The whole stack works again: a send reaches the sandbox.
        api = f"http://127.0.0.1:{api_port}"
        async with httpx.AsyncClient(base_url=api, auth=(sid[1], token[1]), timeout=10) as http:
            sent = await http.post(
                "/v1/Messages",
                json={
                    "to": [{"address": "+15558760001", "channel": "PHONE"}],
                    "content": {"text": "after the restarts"},
                    "from": {"address": "+15017122687", "channel": "SMS"},
                },
            )
            assert sent.status_code == 202, sent.text

            async def arrived() -> bool:
                listed = (await http.get(f"{sandbox[1]}/sandbox/messages")).json()
                return any(m["to"] == "+15558760001" for m in listed["messages"])

            loop = asyncio.get_running_loop()
            give_up = loop.time() + 60
            while not await arrived():
                assert loop.time() < give_up, stderr_path.read_text()
                await asyncio.sleep(0.05)
    finally:
        process.send_signal(signal.SIGINT)
        await process.communicate()

    assert process.returncode == 0, stderr_path.read_text()
    assert "comms run: stopped" in stderr_path.read_text()
    assert not (tmp_path / "redis.state").exists()  # the Redis it started again, stopped too
