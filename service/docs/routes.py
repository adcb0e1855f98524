"""GET /docs: the API reference, rendered by Redoc (one of the renderers Litestar ships), and
GET /docs/errors: every error code. Served offline: Redoc's bundle is vendored.

`static/redoc-2.5.4/` is redoc@2.5.4 from the npm registry (`npm pack redoc@2.5.4`, integrity
sha512-M6jWhG1qoBnH6TFmzJnstyCZ87HmOY/UzDm78mHiYihEdlV/YcS9ogOo1NlElnJMeLsyxHFe2yFc4sNjHTrABQ==),
its `bundles/redoc.standalone.js`, that file's license notes and the package's LICENSE, as
published. Redoc 3 ships its bundle as an ES module only, which Litestar's Redoc page (a
`<script>` calling the global `Redoc.init`) cannot load. The bundle shows Redocly's logo from
their CDN in its sidebar; the page's Content-Security-Policy allows no request off this host,
so the browser never makes it (the logo hides itself when it does not load).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.enums import MediaType
from litestar.openapi.plugins import RedocRenderPlugin
from litestar.router import Router
from litestar.static_files import create_static_files_router

from service.docs import logic
from service.error_codes import CATALOGUE
from service.openapi import served

STATIC_DIR = Path(__file__).parent / "static"
REDOC_BUNDLE = "redoc-2.5.4/redoc.standalone.js"
STATIC_PATH = "/docs/static"

# Only this host: scripts, styles, images and fonts are the page's own (inline or vendored);
# Redoc compiles code at run time (`new Function`) and runs its search in a blob: worker.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'"
)
_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY}

_REDOC = RedocRenderPlugin(
    js_url=f"{STATIC_PATH}/{REDOC_BUNDLE}",
    google_fonts=False,
    favicon="<link rel='icon' href='data:,'>",
    path="/docs",
)


def _document(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return served(request, request.app.openapi_schema.to_schema())


class DocsController(Controller):
    path = "/docs"
    include_in_schema = False

    @get("/", media_type=MediaType.HTML)
    async def reference(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        """The OpenAPI document rendered by Redoc, every operation, schema and webhook."""
        page = _REDOC.render(request, _document(request))
        return Response(page, media_type=MediaType.HTML, headers=_HEADERS)

    @get("/errors", media_type=MediaType.HTML)
    async def error_codes(self, request: Request[Any, Any, Any]) -> Response[str]:
        """Every error code, one anchor each (what `infoUrl` of a code of ours links to)."""
        answered = logic.answered_codes(_document(request))
        page = logic.render_error_page(CATALOGUE.values(), answered)
        return Response(page, media_type=MediaType.HTML, headers=_HEADERS)


def static_files() -> Router:
    """The vendored renderer, cached for a year: its path names its version."""
    return create_static_files_router(
        path=STATIC_PATH,
        directories=[STATIC_DIR],
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=365 * 24 * 3600, public=True),
    )
