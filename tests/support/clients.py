"""Clients generated from the committed OpenAPI document, and the flows a product team writes
with them (tests/e2e/clients/): run a flow against a stack with a worker process at work."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from service.settings import Settings
from tests.support.servers import ROOT
from tests.support.tenants import Tenant
from tests.support.workers import WorkerProcesses

DOCUMENT = ROOT / "openapi" / "openapi.json"
CLIENTS = ROOT / "tests" / "e2e" / "clients"
# A flow polls; it answers well within this.
FLOW_WITHIN_S = 120.0


def offline() -> dict[str, str]:
    """This environment with every proxy-aware HTTP client pointed at a closed port, loopback
    excepted: a tool that tries to reach the network fails instead."""
    return {
        **os.environ,
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
    }


def run(command: Sequence[str], cwd: Path, env: dict[str, str], timeout_s: float) -> str:
    """Run a tool to its end; its output, or an AssertionError that shows it."""
    done = subprocess.run(
        list(command),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)}:\n{output}"
    return output


async def run_flow(
    command: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    settings: Settings,
    tenant: Tenant,
    api_url: str,
    log: Path,
) -> dict[str, Any]:
    """Run a flow against the test's API as the tenant, with a worker process sending what it
    sends; what it printed (its last line, JSON)."""
    workers = WorkerProcesses(settings, log)
    workers.start()
    flow_env = {
        **env,
        "COMMS_URL": api_url,
        "COMMS_ACCOUNT_SID": tenant.account_sid,
        "COMMS_AUTH_TOKEN": tenant.auth_token,
    }
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=cwd,
            env=flow_env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(FLOW_WITHIN_S):
                out, err = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
    finally:
        workers.kill_all()
    output = out.decode() + err.decode()
    assert process.returncode == 0, f"{output}\nworker log:\n{workers.tail()}"
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result
