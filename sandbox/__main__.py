"""`python -m sandbox`: serve the sandbox with granian on SANDBOX_HOST:SANDBOX_PORT.

One worker on purpose: all state is in memory in that one process. granian handles SIGINT and
SIGTERM (graceful stop, app lifespan shutdown included)."""

from __future__ import annotations

import gc
import os

from granian.constants import Interfaces
from granian.server import Server
from litestar import Litestar

from sandbox.app import create_app
from sandbox.settings import SandboxSettings


def build_app() -> Litestar:
    """The app factory granian calls in its worker process."""
    app = create_app(SandboxSettings.from_env(os.environ))
    # The sandbox stamps when each send arrives: a full collection walking every object alive
    # since start-up would hold those stamps back. Exempt them from later collections.
    gc.collect()
    gc.freeze()
    return app


def main() -> None:
    settings = SandboxSettings.from_env(os.environ)  # fail here, before forking, when malformed
    print(
        f"sandbox: http://{settings.host}:{settings.port} "
        f"(account {settings.accounts[0].sid}, token {settings.accounts[0].auth_token})",
        flush=True,
    )
    Server(
        target="sandbox.__main__:build_app",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=1,
        log_access=False,
    ).serve()


if __name__ == "__main__":
    main()
