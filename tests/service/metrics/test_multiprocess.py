"""/metrics with several server processes (prometheus_client's multiprocess mode): with
PROMETHEUS_MULTIPROC_DIR set, every scrape reports every process's requests, whichever
process answers it. A real granian with two worker processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest

from service import devstack
from service.devrun import GRANIAN_ARGS
from service.settings import Settings
from tests.service.metrics.test_metrics import samples, value
from tests.support.servers import ROOT

REQUESTS = 40
SCRAPES = 6


@pytest.fixture
def two_processes(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The API under granian with two worker processes sharing a multiprocess directory,
    logging JSON from granian's main process too; every line it wrote must be JSON."""
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    values = msgspec.structs.asdict(settings)
    env = {name.upper(): str(v) for name, v in values.items() if v is not None}
    env.update(
        LOG_LEVEL="WARNING",
        LOG_FORMAT="json",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    port = devstack.free_port()
    args = [a for a in GRANIAN_ARGS if not a.startswith("--workers")]
    with (tmp_path / "api.log").open("ab") as sink:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "granian",
                *args,
                "--workers=2",
                f"--port={port}",
                "--log-config=service/granian-logging.json",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield f"http://127.0.0.1:{port}", metrics_dir
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    lines = (tmp_path / "api.log").read_text().splitlines()
    assert any("Spawning worker" in line for line in lines)
    for line in lines:
        assert isinstance(json.loads(line), dict), line


async def started(url: str, deadline_s: float = 60.0) -> None:
    until = time.monotonic() + deadline_s
    while True:
        try:
            async with httpx.AsyncClient(base_url=url) as http:
                if (await http.get("/healthz")).status_code == 200:
                    return
        except httpx.TransportError:
            pass
        if time.monotonic() > until:
            pytest.fail("the API did not start")
        await asyncio.sleep(0.05)


async def test_every_scrape_counts_every_process(two_processes: tuple[str, Path]) -> None:
    url, metrics_dir = two_processes
    await started(url)
    before = await healthz_count(url)
    for _ in range(REQUESTS):
        # A connection each: the server processes share the listening socket, so requests
        # land on either.
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/healthz")).status_code == 200
    counts = [await healthz_count(url) for _ in range(SCRAPES)]
    assert counts == [before + REQUESTS] * SCRAPES
    # The processes' values are in the shared directory (one file per process and kind).
    assert list(metrics_dir.glob("counter_*.db"))


async def healthz_count(url: str) -> float:
    async with httpx.AsyncClient(base_url=url, headers={"Connection": "close"}) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    found = samples(response.text)
    counted = value(found, "comms_requests_total", method="GET", path="/healthz")
    return counted or 0.0
