"""U+0000 anywhere in a query or a JSON body is a 400 naming the field, never a 500."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from service.text_guard import nul_paths
from tests.support.tenants import Tenant

SMS_FROM = {"address": "+15017122661", "channel": "SMS"}


def test_nul_paths_names_values_and_keys() -> None:
    document = {"a": ["ok", "b\x00"], "k\x00": "v", "n": {"m": "\x00", "x": 1, "y": None}}
    assert nul_paths(document, "$") == ["$.a[1]", "$.k\x00", "$.n.m"]
    assert nul_paths({"clean": ["text", 1, 2.5, True]}, "$") == []


@pytest.mark.parametrize(
    ("path", "params", "context"),
    [
        ("/v1/Messages/Seek", {"identifier": "SM\x00"}, "$.identifier"),
        ("/v1/Messages", {"address": "+1555\x00"}, "$.address"),
        ("/v1/Messages/Operations", {"startDate": "2026\x00"}, "$.startDate"),
        ("/v1/Senders", {"pageToken": "\x00"}, "$.pageToken"),
    ],
)
async def test_query_parameters(
    client: httpx.AsyncClient, path: str, params: dict[str, str], context: str, api_url: str
) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == 400, response.text
    assert response.json()["errors"] == [
        {
            "code": 90001,
            "message": "must not contain the NUL character (U+0000)",
            "infoUrl": f"{api_url}/docs/errors#90001",
            "context": context,
        }
    ]


@pytest.mark.parametrize("path", ["/v1/Messages", "/v1/Messages/DryRun"])
async def test_send_bodies(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant, path: str
) -> None:
    response = await client.post(
        path,
        json={
            "to": [
                {"address": "+15558675310", "channel": "PHONE", "variables": {"a": "x\x00"}},
                {"address": "+15558675311", "channel": "PHONE"},
            ],
            "content": {"text": "h\x00i", "media": [{"url": "https://e.example/\x00"}]},
            "from": SMS_FROM,
            "tags": {"k\x00": "v"},
        },
    )
    assert response.status_code == 400, response.text
    assert [e["context"] for e in response.json()["errors"]] == [
        "$.to[0].variables.a",
        "$.content.text",
        "$.content.media[0].url",
        "$.tags.k\x00",
    ]
    stored = await pool.fetchval(
        "SELECT count(*) FROM operations WHERE account_sid = $1", tenant.account_sid
    )
    assert stored == 0


async def test_search_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/Messages/Search", json={"address": "+1\x00", "tags": {"a": "b\x00"}}
    )
    assert response.status_code == 400
    assert [e["context"] for e in response.json()["errors"]] == ["$.address", "$.tags.a"]


async def test_an_escaped_backslash_is_not_a_nul(client: httpx.AsyncClient) -> None:
    # The JSON text holds `\\u0000`: a backslash and "u0000", which is no NUL at all.
    response = await client.post(
        "/v1/Messages/DryRun",
        content=b'{"to": [{"address": "+15558675310", "channel": "PHONE"}],'
        b' "content": {"text": "a\\\\u0000b"}, "from": {"address": "+15017122661",'
        b' "channel": "SMS"}}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["recipients"][0]["text"] == "a\\u0000b"


async def test_credentials_are_checked_first(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/v1/Messages/Seek", params={"identifier": "\x00"})
    assert response.status_code == 401
