"""The operations console in a real browser (headless Chromium through Playwright): sign in,
follow a 500-recipient operation's bar to 100% without a reload, open a failed message, cancel
a scheduled operation, and see that a second account sees none of it. Every wait is on a
condition (Playwright's expect), never on the clock."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from service.accounts import logic as accounts
from service.settings import Settings
from tests.support.api import operation, send
from tests.support.console import DESKTOP, PHONE, WAIT_MS, sign_in_page
from tests.support.tenants import Tenant, other_tenant
from tests.support.workers import settle

INVALID_TO = "+15005550001"  # the sandbox answers 21211: the message FAILS
UNREACHABLE = "+15005550010"  # accepted, then UNDELIVERED with 30003


def in_a_week() -> str:
    return (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    opened = await browser.new_context(viewport=DESKTOP)
    opened.set_default_timeout(WAIT_MS)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def test_sign_in_with_a_token_or_an_api_key_and_sign_out(
    page: Page, api_url: str, tenant: Tenant, pool: asyncpg.Pool
) -> None:
    await page.goto(f"{api_url}/console/senders")
    await expect(page).to_have_url(re.compile(r"/console/sign-in\?next=%2Fconsole%2Fsenders$"))
    await page.get_by_label("Account SID or API key SID").fill(tenant.account_sid)
    await page.get_by_label("Auth token or API key secret").fill("not-the-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("Those credentials were not accepted.")

    await page.get_by_label("Account SID or API key SID").fill(tenant.account_sid)
    await page.get_by_label("Auth token or API key secret").fill(tenant.auth_token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{api_url}/console/senders")  # where it was going
    await expect(page.get_by_role("heading", level=1)).to_have_text("Senders")
    await expect(page.get_by_text(tenant.account_sid)).to_be_visible()
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["comms_console"]["httpOnly"] is True
    assert cookies["comms_console"]["sameSite"] == "Strict"
    assert await page.evaluate("document.cookie") == "", "no cookie is readable by scripts"

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.goto(f"{api_url}/console")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    key = await accounts.create_api_key(pool, tenant.account_sid)
    assert key.api_key_sid is not None
    assert key.api_key_secret is not None
    await sign_in_page(page, api_url, key.api_key_sid, key.api_key_secret)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Operations")


@pytest.mark.own_stack
@pytest.mark.timeout(300)
async def test_a_500_recipient_operation_fills_its_bar_live_and_a_failed_message_shows_why(
    page: Page,
    api_url: str,
    tenant: Tenant,
    client: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    settings: Settings,
) -> None:
    await sign_in_page(page, api_url, tenant.account_sid, tenant.auth_token)
    recipients = [f"+1555{i:07d}" for i in range(480)] + [INVALID_TO] * 10 + [UNREACHABLE] * 10
    operation_id = await send(client, recipients, tags={"campaign": "console"})

    await page.goto(f"{api_url}/console")
    card = page.locator(f'li[data-operation="{operation_id}"]')
    bar = card.get_by_role("progressbar")
    await expect(bar).to_have_attribute("aria-valuenow", "0")
    await expect(card.locator('[data-count="queued"]')).to_have_text("500")
    await expect(card.locator("[data-progress]")).to_have_attribute("data-live", "")
    # Marks that only this page load has: a reload would lose them.
    await page.evaluate(
        """() => {
            window.loadedOnce = true;
            window.seen = [];
            const bar = document.querySelector('[data-operation] [role="progressbar"]');
            new MutationObserver(() => window.seen.push(Number(bar.getAttribute('aria-valuenow'))))
                .observe(bar, {attributes: true, attributeFilter: ['aria-valuenow']});
        }"""
    )

    await settle(sandbox, settings)  # a worker sends everything; the sandbox's receipts arrive

    await expect(bar).to_have_attribute("aria-valuenow", "100", timeout=WAIT_MS)
    stats = (await operation(client, operation_id))["stats"]
    assert (stats["delivered"], stats["failed"], stats["undelivered"]) == (480, 10, 10)
    for status in ("delivered", "failed", "undelivered", "sent", "queued"):
        await expect(card.locator(f'[data-count="{status}"]')).to_have_text(str(stats[status]))
    await expect(card.locator('[data-legend="queued"]')).to_be_hidden()
    await expect(card.locator("[data-progress]")).to_have_attribute("data-finished", "")
    await expect(card.locator('[data-field="percent"]')).to_have_text("100%")
    assert await page.evaluate("window.loadedOnce") is True, "the page was reloaded"
    seen: list[int] = await page.evaluate("window.seen")
    assert seen, "the bar never changed"
    assert seen[-1] == 100
    assert seen == sorted(seen), f"the bar went back: {seen}"

    # Its errors by code, with the catalogue's descriptions.
    await card.get_by_role("link", name=operation_id).click()
    errors = page.locator("section", has=page.get_by_role("heading", name="Errors by code"))
    await expect(errors.get_by_role("row", name=re.compile("21211"))).to_contain_text(
        "Invalid 'To' phone number"
    )
    await expect(errors.get_by_role("row", name=re.compile("21211"))).to_contain_text("10")
    await expect(errors.get_by_role("row", name=re.compile("30003"))).to_contain_text(
        "Unreachable destination handset"
    )
    # The failed messages, then one of them.
    await page.get_by_label("Status").select_option("FAILED")
    await page.get_by_role("button", name="Filter").click()
    failed_rows = page.locator("table.messages tbody tr")
    await expect(failed_rows).to_have_count(10)
    await expect(failed_rows.first).to_contain_text("+15••••••001")  # masked in lists
    await failed_rows.first.get_by_role("link").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Message")
    attempt = page.locator(".attempt").first
    await expect(attempt).to_contain_text("FAILED")
    await expect(attempt).to_contain_text("Error 21211")
    await expect(attempt).to_contain_text("Invalid 'To' phone number")
    await expect(attempt).to_contain_text("SMS")
    await expect(page.locator(".facts").first).to_contain_text(INVALID_TO)  # in full, here only


async def test_a_scheduled_operation_is_canceled_after_confirmation(
    page: Page, api_url: str, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    operation_id = await send(
        client, ["+15558675310", "+15558675311"], schedule={"sendAt": [in_a_week()]}
    )
    await sign_in_page(page, api_url, tenant.account_sid, tenant.auth_token)
    await page.get_by_role("link", name=operation_id).click()
    await expect(page.locator('[data-field="status"]')).to_have_text("SCHEDULED")
    await page.get_by_role("link", name="Cancel operation…").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Cancel this operation?")
    await expect(page.get_by_text("2 scheduled")).to_be_visible()
    await page.get_by_role("button", name="Yes, cancel the operation").click()

    await expect(page.get_by_role("status")).to_contain_text("The operation was canceled")
    await expect(page.locator('[data-field="status"]')).to_have_text("CANCELED")
    await expect(page.locator('[data-count="canceled"]')).to_have_text("2")
    await expect(page.get_by_role("link", name="Cancel operation…")).to_have_count(0)
    assert (await operation(client, operation_id))["status"] == "CANCELED"


async def test_a_second_account_sees_none_of_it(
    browser: Browser,
    page: Page,
    api_url: str,
    tenant: Tenant,
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
) -> None:
    operation_id = await send(client, ["+15558675310"], schedule={"sendAt": [in_a_week()]})
    listed = await client.get("/v1/Messages", params={"operationId": operation_id})
    message_id = listed.json()["messages"][0]["id"]
    assert (await client.post("/v1/Suppressions", json={"address": "+15558675399"})).is_success
    await sign_in_page(page, api_url, tenant.account_sid, tenant.auth_token)
    await expect(page.get_by_role("link", name=operation_id)).to_be_visible()

    other = await other_tenant(pool)
    second = await browser.new_context(viewport=DESKTOP)
    try:
        theirs = await second.new_page()
        await sign_in_page(theirs, api_url, other.account_sid, other.auth_token)
        await expect(theirs.get_by_text("No operations.")).to_be_visible()
        for path in (f"/console/operations/{operation_id}", f"/console/messages/{message_id}"):
            answer = await theirs.goto(f"{api_url}{path}")
            assert answer is not None
            assert answer.status == 404
            await expect(theirs.get_by_role("heading", level=1)).to_have_text("Not found")
        await theirs.goto(f"{api_url}/console/suppressions")
        await expect(theirs.get_by_text("No suppressed numbers.")).to_be_visible()
        for path in ("/console", "/console/suppressions", "/console/webhooks", "/console/senders"):
            await theirs.goto(f"{api_url}{path}")
            content = await theirs.content()
            assert operation_id not in content
            assert message_id not in content
            assert tenant.account_sid not in content
    finally:
        await second.close()


async def test_the_keyboard_reaches_everything_and_pages_fit_a_phone(
    browser: Browser, api_url: str, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    operation_id = await send(
        client, ["+15558675310"], tags={"campaign": "spring"}, schedule={"sendAt": [in_a_week()]}
    )
    phone = await browser.new_context(viewport=PHONE)
    try:
        page = await phone.new_page()
        await sign_in_page(page, api_url, tenant.account_sid, tenant.auth_token)
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        await page.keyboard.press("Enter")
        await page.keyboard.press("Tab")
        await expect(page.get_by_label("Status")).to_be_focused()
        for path in (
            "/console",
            f"/console/operations/{operation_id}",
            f"/console/operations/{operation_id}/cancel",
            "/console/senders",
            "/console/suppressions",
            "/console/webhooks",
        ):
            await page.goto(f"{api_url}{path}")
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} is {overflow} px wider than a 390 px screen"
    finally:
        await phone.close()
