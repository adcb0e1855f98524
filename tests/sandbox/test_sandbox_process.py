"""`python -m sandbox` serves on SANDBOX_HOST:SANDBOX_PORT and stops cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
async def test_python_m_sandbox_serves_and_stops(stop_signal: signal.Signals) -> None:
    port = free_port()
    env = {**os.environ, "SANDBOX_PORT": str(port), "SANDBOX_CALLBACK_DELAY_MS": "0"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    try:
        output: list[str] = []
        async with asyncio.timeout(20):
            while True:  # granian logs "Started worker-1" once the app serves
                line = (await process.stdout.readline()).decode()
                assert line, "".join(output)
                output.append(line)
                if "Started worker" in line:
                    break
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = await client.get("/sandbox/health")
            assert health.json()["status"] == "ok"
            account = "AC" + "a" * 32
            created = await client.post(
                f"/2010-04-01/Accounts/{account}/Messages.json",
                data={"To": "+14155550100", "From": "+15005550006", "Body": "hi"},
                auth=(account, "sandbox-auth-token"),
            )
            assert created.status_code == 201
        process.send_signal(stop_signal)
        async with asyncio.timeout(20):
            rest = (await process.stdout.read()).decode()
            code = await process.wait()
        assert code == 0, "".join(output) + rest
        assert "shutdown completed" in rest
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
