"""Fixtures for the sandbox tests: the sandbox and a webhook receiver as real loopback servers,
Twilio's OpenAPI schemas as validators, and the official twilio SDK pointed at the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from twilio.rest import Client

from sandbox.app import create_app
from sandbox.serving import serve_asgi
from sandbox.settings import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN
from sandbox.testing import WebhookReceiver
from tests.support.sandbox_api import TEST_SETTINGS, SandboxApi
from tests.support.twilio_fidelity import (
    OPENAPI_DIR,
    LoopbackHttpClient,
    TwilioSchemas,
    assert_signed,
)


@pytest.fixture(scope="session")
def messages_schema() -> TwilioSchemas:
    return TwilioSchemas(OPENAPI_DIR / "messages_v2010.json")


@pytest.fixture(scope="session")
def conversations_schema() -> TwilioSchemas:
    return TwilioSchemas(OPENAPI_DIR / "conversations_v1.json")


@pytest.fixture(scope="session")
def check_signature() -> Callable[..., None]:
    return assert_signed


@pytest.fixture(scope="session")
async def sandbox_url() -> AsyncIterator[str]:
    async with serve_asgi(create_app(TEST_SETTINGS)) as url:
        yield url


@pytest.fixture(scope="session")
async def receiver_server() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    async with serve_asgi(receiver) as url:
        receiver.base_url = url
        yield receiver


@pytest.fixture
async def receiver(receiver_server: WebhookReceiver) -> WebhookReceiver:
    receiver_server.reset()
    return receiver_server


@pytest.fixture
async def sandbox(sandbox_url: str) -> AsyncIterator[SandboxApi]:
    async with httpx.AsyncClient(
        base_url=sandbox_url, auth=(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN), timeout=15
    ) as client:
        assert (await client.post("/sandbox/reset")).status_code == 200
        yield SandboxApi(sandbox_url, client)


@pytest.fixture
def twilio_client(sandbox: SandboxApi) -> Client:
    return Client(
        DEFAULT_ACCOUNT_SID,
        DEFAULT_AUTH_TOKEN,
        http_client=LoopbackHttpClient(sandbox.base_url),
    )
