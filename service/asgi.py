"""ASGI entry point for servers: `granian --interface asgi --factory service.asgi:app`."""

from __future__ import annotations

import os

from litestar import Litestar

from service.app import create_app
from service.gc_tuning import freeze_startup_heap
from service.settings import load_settings


def app() -> Litestar:
    built = create_app(load_settings(os.environ))
    freeze_startup_heap()
    return built
