"""MMS media: the sandbox fetches each URL once it has accepted the message (reading at most
5 MB), sends gif, png and jpeg, and fails anything else with Twilio's codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sandbox.media import MAX_MEDIA_BYTES
from sandbox.serving import serve_asgi
from sandbox.testing import MediaFile, MediaServer

TO = "+14155550100"
FROM = "+14155550123"
MB = 1024 * 1024


@pytest.fixture
async def media() -> AsyncIterator[MediaServer]:
    server = MediaServer(
        {
            "/cat.png": MediaFile("image/png", 2048),
            "/cat.gif": MediaFile("image/gif", 4096),
            "/cat.jpg": MediaFile("image/jpeg; charset=binary", 3 * MB),
            "/exact.jpg": MediaFile("image/jpeg", MAX_MEDIA_BYTES),
            "/big.jpg": MediaFile("image/jpeg", MAX_MEDIA_BYTES + 1),
            "/endless.png": MediaFile("image/png", 64 * MB, declare_length=False),
            "/doc.pdf": MediaFile("application/pdf", 1000),
            "/clip.mp4": MediaFile("video/mp4", 1000),
            "/broken.png": MediaFile("image/png", 10, status=500),
        }
    )
    async with serve_asgi(server) as url:
        server.base_url = url
        yield server


async def outcome(sandbox: Any, *urls: str, **fields: str) -> dict[str, Any]:
    answer = await sandbox.send(
        data={"To": TO, "From": FROM, "Body": "look", "MediaUrl": list(urls)} | fields
    )
    assert answer.status_code == 201, answer.text
    await sandbox.drain()
    fetched: dict[str, Any] = (await sandbox.fetch(answer.json()["sid"])).json()
    return fetched


@pytest.mark.parametrize(
    "paths",
    [["/cat.png"], ["/cat.gif"], ["/cat.jpg"], ["/exact.jpg"], ["/cat.png", "/cat.jpg"]],
)
async def test_images_up_to_five_megabytes_are_sent(
    sandbox: Any, media: MediaServer, paths: list[str]
) -> None:
    fetched = await outcome(sandbox, *(media.url(p) for p in paths))
    assert (fetched["status"], fetched["error_code"]) == ("delivered", None)
    assert sorted(path for _, path in media.requests) == sorted(paths)


@pytest.mark.parametrize(
    ("paths", "code"),
    [
        (["/doc.pdf"], 12300),
        (["/clip.mp4"], 12300),
        (["/cat.png", "/doc.pdf"], 12300),
        (["/big.jpg"], 11751),
        (["/cat.jpg", "/cat.jpg"], 11751),  # 6 MB in all
        (["/missing.png"], 11200),
        (["/broken.png"], 11200),
    ],
)
async def test_other_types_and_larger_media_fail_the_message(
    sandbox: Any, receiver: Any, media: MediaServer, paths: list[str], code: int
) -> None:
    fetched = await outcome(
        sandbox, *(media.url(p) for p in paths), StatusCallback=receiver.url("/s")
    )
    assert (fetched["status"], fetched["error_code"]) == ("failed", code)
    assert fetched["date_sent"] is None
    forms = [w.form for w in receiver.received]
    assert [f["MessageStatus"] for f in forms] == ["failed"]
    assert forms[-1]["ErrorCode"] == str(code)


async def test_a_large_medium_is_never_read_past_the_limit(
    sandbox: Any, media: MediaServer
) -> None:
    fetched = await outcome(sandbox, media.url("/endless.png"))
    assert (fetched["status"], fetched["error_code"]) == ("failed", 11751)
    # 64 MB offered without a length; the sandbox stopped reading after 5 MB (what the server
    # had handed to the socket's buffers by then is a little more).
    assert MAX_MEDIA_BYTES < media.served["/endless.png"] < MAX_MEDIA_BYTES + 4 * MB
    # A declared length over the limit stops it before the body.
    await outcome(sandbox, media.url("/big.jpg"))
    assert media.served.get("/big.jpg", 0) < 4 * MB


async def test_rewrites_let_https_urls_be_served_locally(sandbox: Any, media: MediaServer) -> None:
    config = await sandbox.configure(media_url_rewrites={"https://cdn.example.com": media.url("")})
    assert config["media_url_rewrites"] == {"https://cdn.example.com": media.base_url}
    sent = await outcome(sandbox, "https://cdn.example.com/cat.png")
    refused = await outcome(sandbox, "https://cdn.example.com/doc.pdf")
    assert (sent["status"], refused["error_code"]) == ("delivered", 12300)
    await sandbox.http.post("/sandbox/reset")
    assert (await sandbox.http.get("/sandbox/config")).json()["media_url_rewrites"] == {}


async def test_whatsapp_media_are_not_checked_as_mms(sandbox: Any) -> None:
    answer = await sandbox.send(
        data={
            "To": "whatsapp:+14155550100",
            "From": "whatsapp:+14155550123",
            "ContentSid": "HX" + "c" * 32,
            "MediaUrl": ["http://127.0.0.1:9/never-fetched.pdf"],
        }
    )
    await sandbox.drain()
    assert (await sandbox.fetch(answer.json()["sid"])).json()["status"] == "delivered"
