"""/metrics with several server processes (prometheus_client's multiprocess mode): with
PROMETHEUS_MULTIPROC_DIR set, every scrape reports every process's requests, whichever
process answers it. A real granian with two worker processes, started by `comms serve`, the
image's command."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
import pytest

from service import devstack
from service.settings import Settings
from tests.service.metrics.test_metrics import samples, value
from tests.support.servers import ROOT

REQUESTS = 40
SCRAPES = 6


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str


def comms_serve(settings: Settings, metrics_dir: Path, log: Path) -> Server:
    """`comms serve` (the image's command) with two server processes sharing `metrics_dir`,
    logging JSON from granian's main process too."""
    values = msgspec.structs.asdict(settings)
    env = {name.upper(): str(v) for name, v in values.items() if v is not None}
    env.update(LOG_LEVEL="WARNING", LOG_FORMAT="json", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    port = devstack.free_port()
    comms = str(Path(sys.executable).with_name("comms"))
    with log.open("ab") as sink:
        server = subprocess.Popen(
            [comms, "serve", "--host=127.0.0.1", f"--port={port}", "--workers=2"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(server, f"http://127.0.0.1:{port}")


def stop(server: Server) -> None:
    os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()


@pytest.fixture
def two_processes(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The API under `comms serve`; every line granian and the app wrote must be JSON."""
    metrics_dir = tmp_path / "prometheus"
    server = comms_serve(settings, metrics_dir, tmp_path / "api.log")
    try:
        yield server.url, metrics_dir
    finally:
        stop(server)
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


async def test_a_restart_starts_counting_afresh(settings: Settings, tmp_path: Path) -> None:
    """The directory outlives the server (a container's tmpfs survives a process restart, a
    host directory any restart): `comms serve` empties it first, so the earlier run's requests
    are not counted again."""
    metrics_dir = tmp_path / "prometheus"
    first = comms_serve(settings, metrics_dir, tmp_path / "first.log")
    try:
        await started(first.url)
        for _ in range(REQUESTS):
            async with httpx.AsyncClient(base_url=first.url) as http:
                assert (await http.get("/healthz")).status_code == 200
        assert await healthz_count(first.url) >= REQUESTS
    finally:
        stop(first)
    assert list(metrics_dir.glob("*.db"))  # left behind

    second = comms_serve(settings, metrics_dir, tmp_path / "second.log")
    try:
        await started(second.url)
        before = await healthz_count(second.url)
        # Only the second run's own wait for it to start (a few requests), not the first's.
        assert 1 <= before < REQUESTS
        async with httpx.AsyncClient(base_url=second.url) as http:
            assert (await http.get("/healthz")).status_code == 200
        assert await healthz_count(second.url) == before + 1
    finally:
        stop(second)
