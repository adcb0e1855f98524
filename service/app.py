"""The composition root of the API process: create_app(settings) builds everything."""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from litestar import Litestar, Request, Response, Router
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.prometheus import PrometheusConfig
from redis.exceptions import RedisError

from schemas.errors import ErrorBody, ErrorItem
from service import db, error_codes, logs, openapi, queue, tracing_http
from service.accounts.logic import CredentialCache
from service.accounts.watcher import CredentialWatcher
from service.audiences.routes import AudiencesController
from service.auth import require_account
from service.callbacks import logic as receipts
from service.callbacks.batching import ReceiptGroups
from service.callbacks.routes import CallbacksController
from service.clock import Clock, system_clock
from service.console import console_router
from service.console import template_config as console_templates
from service.docs.routes import DocsController
from service.docs.routes import static_files as docs_static_files
from service.errors import ApiError, NotFound, Problem, Unavailable
from service.events.feed import Feed
from service.events.routes import OperationEventsController
from service.health.routes import healthz, readyz
from service.messages.routes import MessagesController
from service.metrics.callbacks import observe_callback_lag
from service.metrics.routes import metrics
from service.operations.routes import OperationsController
from service.outages import OutageLog
from service.profiles.routes import ProfilesController
from service.quotas import RequestQuota
from service.request_ids import RequestIds
from service.senders.routes import SenderPoolsController, SendersController
from service.settings import Settings
from service.state import AppState
from service.suppressions.routes import InboundMessagesController, SuppressionsController
from service.text_guard import GuardedRequest, refuse_nul_characters
from service.tracing import Tracing, from_settings
from service.webhooks.routes import StatusCallbackDeliveriesController, WebhooksController

log = structlog.get_logger(__name__)

API_CONTROLLERS = [
    MessagesController,
    OperationsController,
    OperationEventsController,
    SendersController,
    SenderPoolsController,
    AudiencesController,
    SuppressionsController,
    ProfilesController,
    WebhooksController,
    StatusCallbackDeliveriesController,
]


def error_response(
    request: Request[Any, Any, Any],
    status_code: int,
    problems: list[Problem],
    headers: dict[str, str] | None = None,
) -> Response[ErrorBody]:
    # A code of our own links to this deployment's error-code page (GET /docs/errors).
    state: AppState | None = getattr(request.app.state, "comms", None)
    base_url = state.base_url if state is not None else ""
    body = ErrorBody(
        errors=[
            ErrorItem(p.code, p.message, error_codes.info_url(p.code, base_url), p.context)
            for p in problems
        ]
    )
    return Response(body, status_code=status_code, headers=headers or {})


def _api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[ErrorBody]:
    return error_response(request, exc.status_code, exc.problems, exc.headers)


_MSGSPEC_PATH = re.compile(r" - at `(\$[^`]*)`$")
_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")
_MISSING_PARAMETER = re.compile(r"^Missing required \w+ parameter '([^']+)'")


def _wire_name(request: Request[Any, Any, Any], key: str) -> str:
    """A handler argument's name on the wire (`page_size` is the `pageSize` query parameter)."""
    try:
        field = request.route_handler.parsed_fn_signature.parameters.get(key)
    except AttributeError:
        return key
    alias = getattr(getattr(field, "kwarg_definition", None), "name", None)
    return alias if isinstance(alias, str) and alias else key


def _validation_error(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[ErrorBody]:
    """Litestar's decode/parameter errors in the API's error body (service/errors.py), with
    JSON paths."""
    problems: list[Problem] = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message") or exc.detail)
        key, source = item.get("key"), item.get("source")
        match = _MSGSPEC_PATH.search(message)
        context: str | None
        if match:
            context, message = match.group(1), message[: match.start()]
        elif key and key != "data":
            context = f"$.{_wire_name(request, key)}"
        else:
            context = "$" if source == "body" or key == "data" else None
        missing = _MISSING_FIELD.search(message)
        if missing and context is not None:
            context = f"{context}.{missing.group(1)}"
        problems.append(Problem(error_codes.INVALID_FIELD.code, message, context))
    if not problems:
        detail = _plain_detail(exc.detail)
        missing_parameter = _MISSING_PARAMETER.match(detail)
        context = f"$.{missing_parameter.group(1)}" if missing_parameter else None
        problems.append(Problem(error_codes.INVALID_FIELD.code, detail, context))
    return error_response(request, 400, problems)


def _plain_detail(detail: str) -> str:
    # Litestar's detail may repeat the decoder's text; keep it short and free of internals.
    return detail.split("\n", 1)[0][:300] or "Invalid request"


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    status = exc.status_code
    if status == 404:
        return error_response(request, 404, NotFound().problems)
    if status == 413:
        return error_response(
            request, 413, [Problem(error_codes.BODY_TOO_LARGE.code, "Request body too large")]
        )
    if status == 401:
        return error_response(request, 401, [Problem(20003, "Authentication failed")])
    code = error_codes.INVALID_FIELD.code if 400 <= status < 500 else error_codes.INTERNAL.code
    message = _plain_detail(str(exc.detail)) if status < 500 else "Internal error"
    return error_response(request, status, [Problem(code, message)], dict(exc.headers or {}))


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.exception("unhandled error", path=request.url.path, exc_info=exc)
    return error_response(request, 500, [Problem(error_codes.INTERNAL.code, "Internal error")])


def _database_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    """PostgreSQL down, hung or restarting (service.db decides): 503 with Retry-After."""
    if not db.is_unavailable(exc):
        return _internal_error(request, exc)
    log.warning("database unavailable", path=request.url.path, error=repr(exc))
    unavailable = Unavailable()
    return error_response(
        request, unavailable.status_code, unavailable.problems, unavailable.headers
    )


def _redis_unavailable(request: Request[Any, Any, Any], exc: RedisError) -> Response[ErrorBody]:
    """Redis down or hung, in a route that cannot do without it (the quota and the dispatch
    hints do): 503 with Retry-After."""
    log.warning("Redis unavailable", path=request.url.path, error=repr(exc))
    unavailable = Unavailable()
    return error_response(
        request, unavailable.status_code, unavailable.problems, unavailable.headers
    )


def api_router(path: str, *, include_in_schema: bool) -> Router:
    return Router(
        path=path,
        route_handlers=API_CONTROLLERS,
        guards=[require_account],
        include_in_schema=include_in_schema,
        security=[{"basicAuth": []}],
    )


def create_app(
    settings: Settings, *, clock: Clock = system_clock, tracing: Tracing | None = None
) -> Litestar:
    """The API. Tracing follows the OTEL_* settings unless `tracing` is given (its owner then
    instruments the libraries and shuts it down)."""
    owned_tracing = tracing is None
    if tracing is None:
        tracing = from_settings(settings, service_name="comms-api")
        tracing.instrument_libraries()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await db.create_pool(
            settings.database_url,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            timeout_s=settings.db_timeout_s,
        )
        reads = await db.create_read_pool(
            settings.database_url,
            min_size=1,
            max_size=settings.db_pool_max,
            timeout_s=settings.db_timeout_s,
        )
        redis = await queue.connect(settings.redis_url)
        redis_outages = OutageLog()
        credentials = CredentialCache()
        # Empties the cache when an account is disabled, a token rotated, a key revoked.
        credential_watcher = CredentialWatcher(
            settings.database_url, credentials, timeout_s=settings.db_timeout_s
        )
        credential_watcher.start()
        # One reader of new events for every SSE stream of this process.
        feed = Feed(
            pool,
            settings.database_url,
            poll_s=settings.sse_poll_interval_s,
            timeout_s=settings.db_timeout_s,
        )
        feed.start()
        app.state.comms = AppState(
            settings=settings,
            pool=pool,
            reads=reads,
            redis=redis,
            credentials=credentials,
            clock=clock,
            receipts=ReceiptGroups(
                functools.partial(receipts.apply_receipts, pool, lag=observe_callback_lag)
            ),
            quota=RequestQuota(
                redis,
                rate=settings.api_requests_per_second,
                burst=settings.api_request_burst,
                outages=redis_outages,
            ),
            redis_outages=redis_outages,
            tracing=tracing,
            feed=feed,
        )
        try:
            yield
        finally:
            await feed.stop()
            await credential_watcher.stop()
            await redis.aclose()
            await reads.close()
            await pool.close()
            if owned_tracing:
                tracing.shutdown()

    def provide_state(request: Request[Any, Any, Any]) -> AppState:
        state: AppState = request.app.state.comms
        return state

    exception_handlers: dict[Any, Any] = {
        ApiError: _api_error,
        ValidationException: _validation_error,
        HTTPException: _http_error,
        RedisError: _redis_unavailable,
        Exception: _internal_error,
    }
    exception_handlers.update(dict.fromkeys(db.UNAVAILABLE_ERRORS, _database_unavailable))
    logs.configure(settings)
    app = Litestar(
        route_handlers=[
            api_router("/v1", include_in_schema=True),
            api_router("/preview", include_in_schema=False),
            CallbacksController,
            InboundMessagesController,
            healthz,
            readyz,
            metrics,
            DocsController,
            docs_static_files(),
            console_router(settings),
        ],
        template_config=console_templates(),
        # Requests by route template (not raw path: ids would make a series each); paths no
        # route matches (scanners, typos) are left out for the same reason.
        middleware=[
            PrometheusConfig(
                app_name="comms",
                prefix="comms",
                group_path=True,
                exclude_unhandled_paths=True,
                exclude=["^/metrics$"],
            ).middleware
        ],
        dependencies={"comms": Provide(provide_state, sync_to_thread=False)},
        exception_handlers=exception_handlers,
        lifespan=[lifespan],
        openapi_config=openapi.config(),
        request_max_body_size=settings.max_body_bytes,
        on_app_init=[_no_debug],
        before_request=refuse_nul_characters,
        request_class=GuardedRequest,
        debug=False,
        # Logging is service.logs's (JSON or console, for every logger); Litestar's own config
        # would put a plain-text handler on the root logger.
        logging_config=None,
    )
    # Around everything, 404s and 405s included: the server span, then the request id and the
    # access log (service/request_ids.py).
    app.asgi_handler = tracing_http.traced(RequestIds(app.asgi_handler), tracing)
    return app


def _no_debug(config: AppConfig) -> AppConfig:
    config.debug = False
    return config
