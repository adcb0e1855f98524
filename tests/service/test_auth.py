"""Basic auth on every API route; another tenant's ids answer 404 like unknown ones."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from service.accounts import logic as accounts
from tests.support.tenants import Tenant

SEND = {
    "to": [{"address": "+15558675310", "channel": "PHONE"}],
    "content": {"text": "hi"},
    "from": {"address": "+15017122661", "channel": "SMS"},
}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/Messages"),
        ("GET", "/v1/Messages"),
        ("GET", "/v1/Messages/comms_message_01m8h0jzqsechs3yv6kh2qxj5m"),
        ("GET", "/v1/Messages/Operations/comms_operation_01m8h0jzqsechs3yv6kh2qxj5m"),
        ("GET", "/preview/Messages"),
    ],
)
async def test_no_credentials(anonymous: httpx.AsyncClient, method: str, path: str) -> None:
    response = await anonymous.request(method, path, json=SEND if method == "POST" else None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")
    assert response.json()["errors"][0]["code"] == 20003


async def test_wrong_secret(anonymous: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await anonymous.get(
        "/v1/Messages", auth=(tenant.account_sid, tenant.auth_token[:-1] + "x")
    )
    assert response.status_code == 401
    garbage = await anonymous.get("/v1/Messages", headers={"Authorization": "Basic !!!"})
    assert garbage.status_code == 401


async def test_api_key_authenticates_as_its_account(
    anonymous: httpx.AsyncClient, tenant: Tenant, pool: asyncpg.Pool
) -> None:
    key = await accounts.create_api_key(pool, tenant.account_sid)
    assert key.api_key_sid
    assert key.api_key_secret
    sent = await anonymous.post(
        "/v1/Messages", json=SEND, auth=(key.api_key_sid, key.api_key_secret)
    )
    assert sent.status_code == 202
    # The operation belongs to the account: its own credentials see it.
    seen = await anonymous.get(
        sent.headers["location"], auth=(tenant.account_sid, tenant.auth_token)
    )
    assert seen.status_code == 200


async def test_another_accounts_ids_answer_404(
    anonymous: httpx.AsyncClient, tenant: Tenant, pool: asyncpg.Pool
) -> None:
    other = await accounts.create_account(pool, "other")
    assert other.auth_token
    sent = await anonymous.post("/v1/Messages", json=SEND, auth=tenant.auth)
    operation_id = sent.json()["operationId"]
    listed = await anonymous.get(
        "/v1/Messages", params={"operationId": operation_id}, auth=tenant.auth
    )
    message_id = listed.json()["messages"][0]["id"]
    stranger = (other.account_sid, other.auth_token)
    for path in (f"/v1/Messages/Operations/{operation_id}", f"/v1/Messages/{message_id}"):
        response = await anonymous.get(path, auth=stranger)
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == 20404
    empty = await anonymous.get("/v1/Messages", params={"operationId": operation_id}, auth=stranger)
    assert empty.json()["messages"] == []
    unknown = await anonymous.get(
        "/v1/Messages/comms_message_01m8h0jzqsechs3yv6kh2qxj5m", auth=tenant.auth
    )
    assert unknown.status_code == 404
    malformed = await anonymous.get("/v1/Messages/not-an-id", auth=tenant.auth)
    assert malformed.status_code == 404
