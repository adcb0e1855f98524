"""bench/wrk.py: wrk's figures as `make bench` reads them, from real wrk runs against the test's
API (Debian's wrk, installed by .ci/run) and from its documented output format."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from bench import wrk
from bench.sends import scheduled_body
from tests.support.tenants import Tenant

OUTPUT = """Running 5s test @ http://127.0.0.1:8000/healthz
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.51ms  410.22us   9.80ms   88.12%
    Req/Sec     5.31k   312.40     5.90k    70.00%
  Latency Distribution
     50%  734.00us
     75%    1.62ms
     90%    1.90ms
     99%    1.20s
  52849 requests in 5.00s, 7.51MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  10566.51
Transfer/sec:      1.50MB
"""


def test_parse_reads_throughput_percentiles_in_every_unit_and_failures() -> None:
    result = wrk.parse(OUTPUT)
    assert result.rps == pytest.approx(10566.51)
    assert result.requests == 52849
    assert result.p50_ms == pytest.approx(0.734)
    assert result.p99_ms == pytest.approx(1200.0)
    assert result.bad == 7 + 2 + 3


def test_parse_refuses_output_without_a_latency_distribution() -> None:
    with pytest.raises(ValueError, match="unreadable"):
        wrk.parse(OUTPUT.replace("     50%  734.00us\n", ""))


# The test's API serves from the test's event loop: wrk runs meanwhile, from a thread.


async def test_a_real_run_against_the_api_counts_requests_and_no_failures(api_url: str) -> None:
    result = await asyncio.to_thread(wrk.run, f"{api_url}/healthz", seconds=1, connections=2)
    assert result.requests > 0
    assert result.rps > 0
    assert result.bad == 0
    assert 0 < result.p50_ms <= result.p99_ms


async def test_refused_requests_make_a_figure_invalid(api_url: str) -> None:
    # Wrong credentials: every answer is a 401, and wrk's count of them is read.
    result = await asyncio.to_thread(
        wrk.run, f"{api_url}/v1/Messages", auth=("AC" + "0" * 32, "wrong"), seconds=1
    )
    assert result.requests > 0
    assert result.bad == result.requests


async def test_a_lua_scripted_post_sends_the_body_and_credentials(
    api_url: str, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # A send scheduled far ahead (never due): 202 for every request, so the body and headers
    # arrived whole, even with what could end a Lua long string in the text.
    body = scheduled_body(1)
    body["content"] = {"text": 'it\'s "quoted" ]] and ]=] and ]==] here'}
    result = await asyncio.to_thread(
        wrk.run,
        f"{api_url}/v1/Messages",
        auth=(tenant.account_sid, tenant.auth_token),
        method="POST",
        body=json.dumps(body).encode(),
        seconds=1,
        connections=1,
    )
    assert result.requests > 0
    assert result.bad == 0
    listed = await client.get("/v1/Messages/Operations", params={"pageSize": 1000})
    assert len(listed.json()["operations"]) >= result.requests
