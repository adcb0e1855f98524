"""Take the console's screenshots in this folder: every page at 1280 px wide, the operations
list once more as seen without colour, and the operations list and one operation at 390 px.

Starts a stack of its own in this process (a throwaway database on the test servers, the
sandbox, the API; a burst worker sends), fills one account through the API (a 500-recipient
operation with failures, a scheduled one, a canceled one, one half sent, a slow sender's
backlog, suppressions, a webhook endpoint whose first answer was a 503), then photographs the
pages in headless Chromium (Debian's, as the browser tests use it).

    REDIS_URL=redis://127.0.0.1:47307/7 uv run --frozen python docs/console/screenshots.py
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import asyncpg
import httpx
from playwright.async_api import Page

from sandbox.app import create_app as create_sandbox_app
from sandbox.serving import serve_asgi
from sandbox.settings import SandboxSettings
from service import db, devstack
from service.app import create_app
from service.settings import Settings
from tests.support.api import register_sender, send
from tests.support.console import DESKTOP, PHONE, WAIT_MS, chromium, sign_in_page
from tests.support.factories import StoredMessage, insert_operation
from tests.support.servers import drop_databases, migrated_database, start_servers, stop_servers
from tests.support.stack import sandbox_webhooks, settings_for_tests
from tests.support.tenants import new_tenant
from tests.support.webhooks import Receiver, create_webhook, relay, serve_receiver
from tests.support.workers import settle

HERE = Path(__file__).resolve().parent
DATABASE = f"comms_console_screenshots_{os.getpid()}"


def later(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def shoot(page: Page, url: str, name: str, *, full_page: bool = True) -> None:
    """The page as loaded (the server draws every bar; live ones keep their stream open)."""
    await page.goto(url, wait_until="load", timeout=WAIT_MS)
    await page.screenshot(path=HERE / f"{name}.png", full_page=full_page)
    print(f"docs/console/{name}.png")


async def main() -> None:
    servers = start_servers()
    try:
        url = await migrated_database(servers.admin_url, DATABASE)
        try:
            await photograph(url, servers.redis_url)
        finally:
            await drop_databases(servers.admin_url, [DATABASE])
    finally:
        stop_servers(servers)


async def photograph(database_url: str, redis_url: str) -> None:
    api_port = devstack.free_port()
    api = f"http://127.0.0.1:{api_port}"
    webhooks = sandbox_webhooks(api)
    sandbox_settings = SandboxSettings.from_env(
        {
            "SANDBOX_CALLBACK_DELAY_MS": "0",
            "SANDBOX_DEFAULT_MPS": "0",
            "SANDBOX_CONVERSATIONS_WEBHOOK_URL": webhooks["conversations_webhook_url"],
            "SANDBOX_INBOUND_WEBHOOK_URL": webhooks["inbound_webhook_url"],
        }
    )
    async with serve_asgi(create_sandbox_app(sandbox_settings)) as sandbox_url:
        settings = settings_for_tests(
            database_url=database_url,
            redis_url=redis_url,
            api_url=api,
            sandbox_url=sandbox_url,
            sandbox_settings=sandbox_settings,
        )
        pool = await db.create_pool(database_url, min_size=1, max_size=5)
        try:
            async with (
                serve_asgi(create_app(settings), port=api_port),
                httpx.AsyncClient(base_url=sandbox_url, timeout=60) as sandbox,
                serve_receiver() as receiver,
            ):
                tenant = await new_tenant(pool, "console-demo")
                async with httpx.AsyncClient(base_url=api, auth=tenant.auth, timeout=60) as client:
                    shots = await fill(
                        client, sandbox, settings, pool, tenant.account_sid, receiver
                    )
                async with chromium() as browser:
                    desktop = await browser.new_context(viewport=DESKTOP)
                    page = await desktop.new_page()
                    await shoot(page, f"{api}/console/sign-in", "sign-in")
                    await sign_in_page(page, api, tenant.account_sid, tenant.auth_token)
                    for name, path in shots.items():
                        await shoot(page, f"{api}{path}", name)
                    # The bars as someone who sees no colour sees them (Chromium's emulation).
                    cdp = await desktop.new_cdp_session(page)
                    await cdp.send(
                        "Emulation.setEmulatedVisionDeficiency", {"type": "achromatopsia"}
                    )
                    await shoot(page, f"{api}/console", "operations-greyscale")
                    phone = await browser.new_context(viewport=PHONE)
                    small = await phone.new_page()
                    await sign_in_page(small, api, tenant.account_sid, tenant.auth_token)
                    await shoot(small, f"{api}/console", "operations-390px")
                    # Its first screen: 50 messages stacked for a phone make a very long page.
                    await shoot(
                        small, f"{api}{shots['operation']}", "operation-390px", full_page=False
                    )
        finally:
            await pool.close()


async def fill(
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
    pool: asyncpg.Pool,
    account_sid: str,
    receiver: Receiver,
) -> dict[str, str]:
    """The account's data; the pages to photograph (name → path)."""
    fast = await register_sender(client, "+15017122661")
    await client.post("/v1/SenderPools", json={"displayName": "Spring campaign", "senders": [fast]})
    webhook = await create_webhook(
        client,
        f"{receiver.url}/hooks/comms",
        ["com.twilio.comms-api.operation.completed", "com.twilio.comms-api.message.failed"],
    )
    recipients = [f"+1555{i:07d}" for i in range(480)]
    recipients += ["+15005550001"] * 12 + ["+15005550010"] * 8
    sent = await send(
        client,
        recipients,
        tags={"campaign": "spring-sale", "wave": "1"},
        content={"text": "Spring sale: 20% off until Sunday. Reply STOP to opt out."},
        **{"from": {"senderId": fast}},
    )
    await settle(sandbox, settings)
    receiver.answers = [503]  # the endpoint's first answer; later ones are 200
    await relay(pool, settings)
    await relay(pool, settings)

    scheduled = await send(
        client,
        ["+15558675310", "+15558675311", "+15558675312"],
        tags={"campaign": "reminders"},
        schedule={"sendAt": [later(3)]},
    )
    canceled = await send(client, ["+15558675313"], schedule={"sendAt": [later(5)]})
    await client.post(f"/v1/Messages/Operations/{canceled}/Cancel")
    halfway = [StoredMessage("PHONE", f"+1555010{i:04d}") for i in range(260)]
    halfway += [StoredMessage("PHONE", f"+1555020{i:04d}", "SENT") for i in range(90)]
    halfway += [StoredMessage("PHONE", f"+1555030{i:04d}", "QUEUED") for i in range(150)]
    halfway += [StoredMessage("PHONE", "+15005550001", "FAILED", 21211, "Invalid 'To'")] * 5
    await insert_operation(
        pool,
        account_sid,
        halfway,
        now=datetime.now(UTC),
        tags={"campaign": "newsletter"},
        status="PROCESSING",
    )
    # A slow sender's backlog (no worker runs from here on).
    slow = await client.post(
        "/v1/Senders", json={"address": "+15017122662", "channel": "SMS", "mps": 1}
    )
    await send(
        client,
        [f"+1555040{i:04d}" for i in range(40)],
        tags={"campaign": "alerts"},
        **{"from": {"senderId": slow.json()["id"]}},
    )
    for address in ("+15558675320", "+15558675321", "+15558675322"):
        await client.post("/v1/Suppressions", json={"address": address})

    failed = await client.get(
        "/v1/Messages", params={"operationId": sent, "status": "FAILED", "pageSize": 1}
    )
    return {
        "operations": "/console",
        "operation": f"/console/operations/{sent}",
        "message": f"/console/messages/{failed.json()['messages'][0]['id']}",
        "cancel": f"/console/operations/{scheduled}/cancel",
        "senders": "/console/senders",
        "suppressions": "/console/suppressions",
        "webhooks": "/console/webhooks",
        "webhook": f"/console/webhooks/{webhook['id']}",
    }


if __name__ == "__main__":
    asyncio.run(main())
