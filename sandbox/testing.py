"""Test helpers anyone may reuse: a webhook receiver to serve with `serve_asgi`.

receiver = WebhookReceiver()
async with serve_asgi(receiver) as url:
    receiver.base_url = url
    ...  # give receiver.url("/status") to the code under test
    [callback] = await receiver.wait_for(1)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import msgspec

ASGIReceive = Callable[[], Awaitable[MutableMapping[str, Any]]]
ASGISend = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class ReceivedWebhook(msgspec.Struct):
    """One request the receiver answered: the full URL (for signature checks) and the form."""

    method: str
    url: str
    path: str
    params: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return dict(self.params)


class WebhookReceiver:
    """A tiny ASGI app recording every request. It answers `reply_status` with `reply_body`,
    except that the next `failures` requests get a 500 (kept apart in `failed`)."""

    def __init__(self) -> None:
        self.base_url = ""
        self.received: list[ReceivedWebhook] = []
        self.failed: list[ReceivedWebhook] = []
        self.failures = 0
        self.reply_status = 200
        self.reply_body = b"<Response/>"
        self.reply_content_type = b"text/xml"
        self._changed = asyncio.Condition()

    def reset(self) -> None:
        self.received.clear()
        self.failed.clear()
        self.failures = 0
        self.reply_status = 200
        self.reply_body = b"<Response/>"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    async def __call__(
        self, scope: MutableMapping[str, Any], receive: ASGIReceive, send: ASGISend
    ) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = scope["query_string"].decode()
        headers = {key.decode().lower(): value.decode() for key, value in scope["headers"]}
        form_encoded = headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        )
        webhook = ReceivedWebhook(
            method=scope["method"],
            url=f"{self.base_url}{scope['path']}" + (f"?{query}" if query else ""),
            path=scope["path"],
            params=parse_qsl(body.decode(), keep_blank_values=True) if form_encoded else [],
            headers=headers,
            body=body,
        )
        async with self._changed:
            if self.failures > 0:
                self.failures -= 1
                self.failed.append(webhook)
                status = 500
            else:
                self.received.append(webhook)
                status = self.reply_status
            self._changed.notify_all()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", self.reply_content_type)],
            }
        )
        await send({"type": "http.response.body", "body": self.reply_body})

    async def wait_for(self, count: int, timeout_s: float = 5.0) -> list[ReceivedWebhook]:
        """Wait until `count` requests were answered successfully; return them all."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.received) >= count), timeout_s
            )
        return list(self.received)


class MediaFile(msgspec.Struct, frozen=True):
    """What MediaServer answers for one path: a type, a size in bytes, and whether the answer
    declares its length (without it the body is streamed, chunked)."""

    content_type: str
    size: int
    declare_length: bool = True
    status: int = 200


class MediaServer:
    """A tiny ASGI app serving made-up media files (MMS tests): `files` maps a path to a
    MediaFile; anything else is a 404. `served` counts the body bytes each path handed to the
    server so far (what a client made it produce, not what it was offered)."""

    CHUNK = 64 * 1024

    def __init__(self, files: dict[str, MediaFile] | None = None) -> None:
        self.base_url = ""
        self.files: dict[str, MediaFile] = dict(files or {})
        self.served: dict[str, int] = {}
        self.requests: list[tuple[str, str]] = []

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    async def __call__(
        self, scope: MutableMapping[str, Any], receive: ASGIReceive, send: ASGISend
    ) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        self.requests.append((scope["method"], path))
        media = self.files.get(path)
        if media is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [(b"content-type", media.content_type.encode())]
        if media.declare_length:
            headers.append((b"content-length", str(media.size).encode()))
        await send({"type": "http.response.start", "status": media.status, "headers": headers})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        left = media.size
        chunk = b"\x00" * self.CHUNK
        try:
            while left > 0 and not gone.is_set():
                piece = chunk[: min(left, self.CHUNK)]
                left -= len(piece)
                # The server waits while the client does not read (flow control), and drops
                # what is sent after the client went away: count only what it took.
                await send({"type": "http.response.body", "body": piece, "more_body": left > 0})
                await asyncio.sleep(0)
                if not gone.is_set():
                    self.served[path] = self.served.get(path, 0) + len(piece)
        except OSError:
            pass  # the client went away
        finally:
            watcher.cancel()
