"""Each account's API requests are held to its quota; over it, 429 (20429) with Retry-After."""

from __future__ import annotations

import asyncpg
import httpx
import msgspec
from redis.asyncio import Redis

from sandbox.serving import serve_asgi
from service.app import create_app
from service.settings import Settings
from tests.support.tenants import Tenant, other_tenant


async def test_an_account_over_its_quota_is_refused_and_others_are_not(
    settings: Settings, tenant: Tenant, pool: asyncpg.Pool, redis: Redis
) -> None:
    # A burst of three, then one request every 100 s: the fourth in a row is over the quota.
    strict = msgspec.structs.replace(settings, api_requests_per_second=0.01, api_request_burst=3)
    async with serve_asgi(create_app(strict)) as url:
        async with httpx.AsyncClient(base_url=url, auth=tenant.auth) as http:
            answers = [await http.get("/v1/Senders") for _ in range(4)]
            # Wrong credentials are refused before the quota is looked at, and cost nothing.
            anonymous = await http.get("/v1/Senders", auth=("ACnobody", "wrong"))
        assert [a.status_code for a in answers[:3]] == [200, 200, 200]
        refused = answers[3]
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 100
        [error] = refused.json()["errors"]
        assert error["code"] == 20429
        assert error["infoUrl"] == "https://www.twilio.com/docs/api/errors/20429"
        assert anonymous.status_code == 401

        other = await other_tenant(pool)
        async with httpx.AsyncClient(base_url=url, auth=other.auth) as http:
            assert (await http.get("/v1/Senders")).status_code == 200


async def test_a_zero_quota_is_no_quota(settings: Settings, tenant: Tenant, redis: Redis) -> None:
    unlimited = msgspec.structs.replace(settings, api_requests_per_second=0, api_request_burst=1)
    async with serve_asgi(create_app(unlimited)) as url:
        http = httpx.AsyncClient(base_url=url, auth=tenant.auth)
        async with http:
            statuses = {(await http.get("/v1/Senders")).status_code for _ in range(5)}
    assert statuses == {200}
