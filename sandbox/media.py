"""MMS media as Twilio checks them: fetched once the message is accepted, then refused unless
they render (gif, png, jpeg) and weigh at most 5 MB in all.

Each URL is fetched with GET, reading at most the limit plus one byte (a `Content-Length`
over the limit stops it before any body is read), so a huge file never fills the sandbox's
memory. The codes a message then fails with are Twilio's:

| problem | code |
|---|---|
| the URL cannot be fetched (no answer, or not a 2xx) | 11200 HTTP retrieval failure |
| a type other than image/gif, image/png, image/jpeg | 12300 Invalid Content-Type |
| more than 5 MB, one file or all of them | 11751 Media exceeds messaging provider size limit |

`media_url_rewrites` (runtime config) maps a URL prefix to another before fetching, e.g.
`{"https://cdn.example.com": "http://127.0.0.1:8123"}`, so tests can serve media for https
URLs from a local plain-HTTP server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aiohttp

MAX_MEDIA_BYTES = 5 * 1024 * 1024
RENDERED_TYPES = frozenset({"image/gif", "image/png", "image/jpeg", "image/jpg"})
RETRIEVAL_FAILED = 11200
TOO_LARGE = 11751
INVALID_CONTENT_TYPE = 12300
_CHUNK = 64 * 1024


def rewrite(url: str, rewrites: Mapping[str, str]) -> str:
    for prefix, replacement in rewrites.items():
        if url.startswith(prefix):
            return replacement + url[len(prefix) :]
    return url


async def check_media(
    client: aiohttp.ClientSession | None, urls: Sequence[str], rewrites: Mapping[str, str]
) -> int | None:
    """The error code the message fails with, or None when every medium can be sent."""
    if client is None:
        raise RuntimeError("the sandbox's HTTP client is not started (app lifespan not run)")
    total = 0
    for url in urls:
        code, size = await _fetch(client, rewrite(url, rewrites), MAX_MEDIA_BYTES - total)
        if code is not None:
            return code
        total += size
    return None


async def _fetch(client: aiohttp.ClientSession, url: str, room: int) -> tuple[int | None, int]:
    """(None, size) for a medium that can be sent, else (error code, 0)."""
    try:
        async with client.get(url, allow_redirects=True) as response:
            if not 200 <= response.status < 300:
                return RETRIEVAL_FAILED, 0
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            if content_type.lower() not in RENDERED_TYPES:
                return INVALID_CONTENT_TYPE, 0
            declared = response.content_length
            if declared is not None and declared > room:
                return TOO_LARGE, 0
            size = 0
            async for chunk in response.content.iter_chunked(_CHUNK):
                size += len(chunk)
                if size > room:
                    return TOO_LARGE, 0
            return None, size
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return RETRIEVAL_FAILED, 0
