"""Serve an ASGI app on a real loopback socket inside the running event loop (for tests)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import uvicorn


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves the process's signal handlers alone."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@asynccontextmanager
async def serve_asgi(app: Any, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve `app` (lifespan included) on `port` (0: a free one) of `host`; yield its base URL.

    Startup has finished when the URL is yielded; leaving the block shuts the server down
    (lifespan shutdown included). Needs uvicorn (a dev dependency)."""
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto is
    # TCP, and without it every keep-alive request waits ~40 ms for a delayed ACK.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="on", log_level="warning", access_log=False, timeout_graceful_shutdown=5
    )
    config.load()
    server = _EmbeddedServer(config)
    server.lifespan = config.lifespan_class(config)
    try:
        await server.startup(sockets=[sock])
    except SystemExit as exc:  # uvicorn exits the process when lifespan startup fails
        sock.close()
        raise RuntimeError("ASGI lifespan startup failed") from exc
    await server.on_tick(0)  # sets the Date header once
    try:
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        yield f"http://{netloc}"
    finally:
        server.should_exit = True
        await server.shutdown(sockets=[sock])
