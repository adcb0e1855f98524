"""What a send verdict makes of a connection that fails, through the real provider client.

A connection that never opened cannot have carried the request: the send is retried. One
that the provider closed after reading the request may have carried it: the provider is
asked before the message is sent again (the UNKNOWN verdict).
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from service.sending.channel import SendRequest
from service.settings import Settings
from workers import settings as worker_settings
from workers.channels.sms import MessagesApiChannel


@asynccontextmanager
async def provider_that_hangs_up() -> AsyncIterator[str]:
    """A provider that reads each request, then closes the connection without answering."""
    read = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        read.set()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
        assert read.is_set()
    finally:
        server.close()
        await server.wait_closed()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sms_channel(settings: Settings, base_url: str) -> MessagesApiChannel:
    return MessagesApiChannel(
        worker_settings.provider_client(settings),
        base_url=base_url,
        account_sid="AC" + "a" * 32,
        auth_token="t",
        status_callback_url="http://127.0.0.1:1/callbacks/twilio/messages/status",
    )


REQUEST = SendRequest(attempt_id=uuid.uuid4(), to="+15558675310", from_="+15017122661", body="hi")


async def test_a_connection_closed_after_the_request_may_have_delivered_it(
    settings: Settings,
) -> None:
    async with provider_that_hangs_up() as url:
        channel = sms_channel(settings, url)
        result = await channel.send(REQUEST)
    assert result.verdict == "UNKNOWN", result


async def test_a_connection_that_never_opened_is_retried(settings: Settings) -> None:
    channel = sms_channel(settings, f"http://127.0.0.1:{closed_port()}")
    result = await channel.send(REQUEST)
    assert result.verdict == "TRANSIENT", result
