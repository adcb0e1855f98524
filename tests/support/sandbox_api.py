"""The sandbox as its own tests drive it: fast settings with two accounts, and a client for
its Twilio API and its /sandbox/ control API."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.settings import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    SandboxAccount,
    SandboxSettings,
)

SECOND_ACCOUNT_SID = "AC" + "b" * 32
SECOND_AUTH_TOKEN = "second-token"

# Fast settings for tests: no delays between steps, no sender throttling, quick retries.
TEST_SETTINGS = SandboxSettings(
    accounts=(
        SandboxAccount(sid=DEFAULT_ACCOUNT_SID, auth_token=DEFAULT_AUTH_TOKEN),
        SandboxAccount(sid=SECOND_ACCOUNT_SID, auth_token=SECOND_AUTH_TOKEN),
    ),
    callback_delay_ms=0,
    default_mps=0,
    callback_retry_delays_ms=(5, 10),
    callback_timeout_s=2.0,
)


class SandboxApi:
    """An httpx client for one sandbox, with the default account's credentials."""

    def __init__(self, base_url: str, client: httpx.AsyncClient) -> None:
        self.base_url = base_url
        self.http = client
        self.account_sid = DEFAULT_ACCOUNT_SID
        self.messages_path = f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"

    async def send(self, data: Any = None, **fields: str) -> httpx.Response:
        return await self.http.post(self.messages_path, data=data if data is not None else fields)

    async def fetch(self, sid: str) -> httpx.Response:
        return await self.http.get(f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json")

    async def drain(self) -> None:
        response = await self.http.post("/sandbox/drain", params={"timeout": 10})
        assert response.status_code == 200, response.text
        assert response.json()["drained"] is True

    async def sent(self) -> list[dict[str, Any]]:
        response = await self.http.get("/sandbox/messages")
        assert response.status_code == 200
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages

    async def configure(self, **changes: Any) -> dict[str, Any]:
        response = await self.http.post("/sandbox/config", json=changes)
        assert response.status_code == 200, response.text
        config: dict[str, Any] = response.json()
        return config
