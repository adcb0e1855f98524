"""The sandbox's composition root: `create_app(settings)` builds the Litestar app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiohttp
from litestar import Litestar
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException
from litestar.logging import LoggingConfig

from sandbox.auth import provide_account
from sandbox.conversations.routes import ConversationsController
from sandbox.errors import (
    TwilioError,
    render_http_exception,
    render_not_found,
    render_twilio_error,
    render_unexpected,
)
from sandbox.inbound import InboundController
from sandbox.inspection import InspectionController
from sandbox.messages.routes import MessagesController
from sandbox.settings import SandboxSettings
from sandbox.state import SandboxState

CONNECT_TIMEOUT_S = 2.0


def _provider(sandbox: SandboxState) -> Callable[[], SandboxState]:
    def provide_sandbox() -> SandboxState:
        return sandbox

    return provide_sandbox


def create_app(settings: SandboxSettings) -> Litestar:
    """Build the app; the outbound HTTP client is opened and closed by the app's lifespan."""
    sandbox = SandboxState(settings)

    @asynccontextmanager
    async def outbound_client(_: Litestar) -> AsyncIterator[None]:
        # aiohttp directly, without httpx's layer on top: callbacks are most of the sandbox's
        # work under load, and a busy sandbox (the benchmarks' instrument) stamps sends late.
        client = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(
                total=settings.callback_timeout_s, connect=CONNECT_TIMEOUT_S
            ),
            connector=aiohttp.TCPConnector(limit=256, keepalive_timeout=30),
            trust_env=False,
        )
        sandbox.webhooks.client = client
        try:
            yield
        finally:
            await sandbox.tasks.cancel_all()
            sandbox.webhooks.client = None
            await client.close()

    app = Litestar(
        route_handlers=[
            MessagesController,
            ConversationsController,
            InspectionController,
            InboundController,
        ],
        dependencies={
            "sandbox": Provide(_provider(sandbox), sync_to_thread=False),
            "account": Provide(provide_account),
        },
        exception_handlers={
            TwilioError: render_twilio_error,
            NotFoundException: render_not_found,
            HTTPException: render_http_exception,
            Exception: render_unexpected,
        },
        lifespan=[outbound_client],
        openapi_config=None,
        logging_config=LoggingConfig(
            loggers={
                "sandbox": {"level": "INFO", "handlers": ["queue_listener"]},
                "httpx": {"level": "WARNING"},
            },
            log_exceptions="debug",
        ),
    )
    app.state.sandbox = sandbox
    return app
