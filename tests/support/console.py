"""The operations console for tests: a signed-in HTTP client, form fields read off a page, and
headless Chromium driven by Playwright (Debian's `chromium`, never Playwright's own download)."""

from __future__ import annotations

import html
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking"]
# Generous: a page waits on a condition (Playwright's expect), never on the clock, and a slow
# machine only takes longer to meet it.
WAIT_MS = 60_000
DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=390, height=844)

_INPUT = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r'([a-zA-Z-]+)="([^"]*)"')


def form_values(page_html: str, name: str) -> list[str]:
    """The values of every input called `name` on a page, in order."""
    values = []
    for tag in _INPUT.findall(page_html):
        attributes = dict(_ATTRIBUTE.findall(tag))
        if attributes.get("name") == name:
            values.append(html.unescape(attributes.get("value", "")))
    return values


def form_value(page_html: str, name: str) -> str:
    values = form_values(page_html, name)
    assert values, f"no input named {name!r} on the page"
    return values[0]


async def sign_in(http: httpx.AsyncClient, username: str, secret: str) -> httpx.Response:
    """Fill and post the sign-in form as a browser would (its token from the form and the
    cookie); the answer (a 303 to the console when the credentials hold)."""
    form = await http.get("/console/sign-in")
    assert form.status_code == 200, form.text
    return await http.post(
        "/console/sign-in",
        data={
            "token": form_value(form.text, "token"),
            "next": "/console",
            "username": username,
            "secret": secret,
        },
    )


@asynccontextmanager
async def console_client(
    api_url: str, username: str, secret: str
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client signed in to the console (its cookie jar holds the session)."""
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        answer = await sign_in(http, username, secret)
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/console"
        yield http


async def csrf_of(http: httpx.AsyncClient, path: str = "/console") -> str:
    page = await http.get(path)
    assert page.status_code == 200, page.text
    return form_value(page.text, "csrf")


def chromium_path() -> Path:
    """Where Chromium is; a test fails (never skips) when it is missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; "
            ".ci/run does) or point CHROMIUM_PATH at a Chromium"
        )
    return CHROMIUM


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Headless Chromium from the system's package, driven by Playwright."""
    executable = chromium_path()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(executable), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def sign_in_page(page: Page, api_url: str, username: str, secret: str) -> None:
    """Sign in through the form, with the keyboard as a person would."""
    await page.goto(f"{api_url}/console")
    await page.get_by_label("Account SID or API key SID").fill(username)
    await page.get_by_label("Auth token or API key secret").fill(secret)
    await page.get_by_label("Auth token or API key secret").press("Enter")
    await page.wait_for_url(f"{api_url}/console", timeout=WAIT_MS)
