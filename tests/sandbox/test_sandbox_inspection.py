"""The /sandbox/ inspection API: the ledger of sends, reset, and serve_asgi's lifecycle."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.app import create_app
from sandbox.serving import serve_asgi
from sandbox.settings import SandboxSettings

TO = "+14155550100"
FROM = "+15005550006"


async def test_ledger_lists_every_accepted_send_in_order(sandbox: Any) -> None:
    sids = [(await sandbox.send(To=TO, From=FROM, Body=f"n{i}")).json()["sid"] for i in range(4)]
    await sandbox.send(To="+15005550001", From=FROM, Body="rejected")  # 400: not a send

    sent = await sandbox.sent()

    assert [m["sid"] for m in sent] == sids
    assert [m["index"] for m in sent] == [0, 1, 2, 3]
    assert [m["body"] for m in sent] == ["n0", "n1", "n2", "n3"]
    assert all(isinstance(m["received_at"], float) for m in sent)
    assert [m["received_at"] for m in sent] == sorted(m["received_at"] for m in sent)
    assert {m["to"] for m in sent} == {TO}
    assert {m["from"] for m in sent} == {FROM}
    later = (await sandbox.http.get("/sandbox/messages", params={"after": 1})).json()
    assert [m["sid"] for m in later["messages"]] == sids[2:]
    assert later["total"] == 4


async def test_reset_forgets_everything(sandbox: Any) -> None:
    await sandbox.send(To=TO, From=FROM, Body="x")
    await sandbox.configure(rate_429=0.5, callback_delay_ms=10)
    await sandbox.http.post("/sandbox/senders", json={"address": FROM, "mps": 2})
    await sandbox.http.post("/v1/Conversations", data={"UniqueName": "kept-maybe"})

    assert (await sandbox.http.post("/sandbox/reset")).status_code == 200

    assert await sandbox.sent() == []
    assert (await sandbox.http.get(sandbox.messages_path)).json()["messages"] == []
    config = (await sandbox.http.get("/sandbox/config")).json()
    assert config["rate_429"] == 0
    assert config["callback_delay_ms"] == 0
    assert (await sandbox.http.get("/sandbox/senders")).json()["senders"] == []
    assert (await sandbox.http.get("/v1/Conversations/kept-maybe")).status_code == 404


async def test_serve_asgi_runs_the_lifespan() -> None:
    app = create_app(SandboxSettings(callback_delay_ms=0))
    sandbox = app.state.sandbox
    async with serve_asgi(app) as url:
        assert url.startswith("http://127.0.0.1:")
        assert sandbox.webhooks.client is not None  # opened by the lifespan
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/sandbox/health")).json()["status"] == "ok"
    assert sandbox.webhooks.client is None  # closed at shutdown
