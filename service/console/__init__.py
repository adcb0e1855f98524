"""The operations console (ext): server-rendered pages at /console, signed in with the API's
own credentials, reading through the API's logic. `console_router` and `template_config` are
what the composition root (service/app.py) registers."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Router
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from service.console import present, sessions
from service.console.routes import (
    CONTENT_SECURITY_POLICY,
    EXCEPTION_HANDLERS,
    SECURITY_HEADERS,
    ConsoleConfig,
    ConsoleController,
    SignInController,
)
from service.settings import Settings

__all__ = ["CONTENT_SECURITY_POLICY", "console_router", "template_config"]

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")


def _static_versions() -> dict[str, str]:
    """Each static file's content hash, appended to its URL so a browser may keep it a day."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        for path in STATIC.iterdir()
        if path.is_file()
    }


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["mask"] = present.mask_phone
    environment.filters["when"] = present.when
    environment.filters["error_description"] = present.error_description
    environment.globals["bar_statuses"] = present.BAR_STATUSES
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def console_router(settings: Settings) -> Router:
    config = ConsoleConfig(
        key=sessions.console_key(settings),
        secure_cookies=settings.public_base_url.startswith("https://"),
        public_host=urlsplit(settings.public_base_url).netloc,
        static_versions=_static_versions(),
        retry_hours=settings.webhook_retry_hours,
    )
    return Router(
        path="/console",
        route_handlers=[
            SignInController,
            ConsoleController,
            create_static_files_router(
                path="/static",
                directories=[STATIC],
                cache_control=CacheControlHeader(max_age=86_400),
                include_in_schema=False,
            ),
        ],
        include_in_schema=False,
        opt={"console": config},
        response_headers=[ResponseHeader(name=n, value=v) for n, v in SECURITY_HEADERS.items()],
        exception_handlers=EXCEPTION_HANDLERS,
    )
