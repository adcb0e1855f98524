"""Logging: structlog, JSON in production, readable in a terminal, for our lines and every
library's alike.

Every line goes through the standard library's root handler, whose formatter is structlog's
ProcessorFormatter: a structlog call and a library's `logging` record (asyncpg, arq, granian,
httpx...) get the same fields (level, logger, timestamp, the request id bound to the context)
and the same renderer, so `LOG_FORMAT=json` is JSON on every line.

What a line must never carry is taken out last, on the rendered text, so nothing escapes it (a
traceback, a library's own message, a repr of a headers dict): phone numbers are masked
(+1555***5310), and credentials are replaced by `[redacted]`: values of fields named like
secrets, HTTP Basic/Bearer credentials, Standard Webhooks keys and passwords in URLs.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from opentelemetry import trace
from structlog.types import EventDict, Processor, WrappedLogger

from service.settings import Settings

REDACTED = "[redacted]"

# Field names whose values are credentials, whatever they hold.
_SECRET_KEY = re.compile(
    r"(auth_?token|authorization|password|passwd|secret|api_?key|signature|credentials|cookie)",
    re.IGNORECASE,
)
# E.164 numbers, also percent-encoded (`%2B1555…` in a form body or a URL), not inside a longer
# run of digits or letters: the country code and the next digits, then the last four, stay.
_PHONE = re.compile(r"(?<![\w%+])(\+|%2[bB])(\d{8,15})(?!\d)")
_CREDENTIALS = (
    # An Authorization header's value, wherever it is printed.
    (re.compile(r"\b(Basic|Bearer|Digest)\s+[A-Za-z0-9+/=._~-]{8,}"), r"\1 " + REDACTED),
    # Standard Webhooks signing keys (the endpoints' and statusCallbacks' secrets).
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"), "whsec_" + REDACTED),
    # A password in a URL (postgresql://user:password@host, redis://:password@host).
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s'\"]*:)[^@\s'\"/]+@"), r"\1" + REDACTED + "@"),
)


def mask_phone_numbers(text: str) -> str:
    """`+15551235310` → `+1555***5310` (short numbers keep less)."""

    def masked(match: re.Match[str]) -> str:
        plus, digits = match.group(1), match.group(2)
        kept = 4 if len(digits) >= 11 else 2
        return f"{plus}{digits[:kept]}***{digits[-kept:]}"

    return _PHONE.sub(masked, text)


def redact_text(text: str) -> str:
    """The text with credentials replaced and phone numbers masked."""
    for pattern, replacement in _CREDENTIALS:
        text = pattern.sub(replacement, text)
    return mask_phone_numbers(text)


def _redact_value(key: str, value: Any) -> Any:
    if _SECRET_KEY.search(key) and value not in (None, ""):
        return REDACTED
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(key, item) for item in value]
    return value


def redact_secret_fields(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Values of fields named like credentials (auth_token, Authorization, secret…), nested
    ones included, become `[redacted]`."""
    return {key: _redact_value(key, value) for key, value in event_dict.items()}


def redact_rendered(_: WrappedLogger, __: str, rendered: Any) -> str:
    """The last step, on the rendered line: credentials and phone numbers out of the text."""
    text = rendered.decode() if isinstance(rendered, bytes) else rendered
    return redact_text(text)


def add_trace_ids(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """The current span's trace and span ids, when tracing is on (service/tracing.py)."""
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event_dict.setdefault("trace_id", format(span.trace_id, "032x"))
        event_dict.setdefault("span_id", format(span.span_id, "016x"))
    return event_dict


def _shared_processors() -> list[Processor]:
    """What both our lines and libraries' records get before rendering."""
    return [
        structlog.contextvars.merge_contextvars,
        add_trace_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _formatter(json_logs: bool, *, colors: bool = False) -> structlog.stdlib.ProcessorFormatter:
    renderer: Processor
    if json_logs:
        renderer = structlog.processors.JSONRenderer()
    else:
        # Plain tracebacks: the default one prints local variables, secrets among them.
        renderer = structlog.dev.ConsoleRenderer(
            exception_formatter=structlog.dev.plain_traceback, colors=colors
        )
    tail: list[Processor] = [structlog.processors.format_exc_info] if json_logs else []
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *tail,
            redact_secret_fields,
            renderer,
            redact_rendered,
        ],
    )


def json_formatter() -> logging.Formatter:
    """The JSON formatter, for a server that sets up logging before our code runs: granian's
    main process (its start, its workers' spawning and exits) with `--log-config
    service/granian-logging.json` (or GRANIAN_LOG_CONFIG)."""
    return _formatter(json_logs=True)


def configure(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Set up structlog and the root handler for this process (again: the last call wins)."""
    json_logs = settings.log_format == "json" or (
        settings.log_format == "auto" and not sys.stderr.isatty()
    )
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # The level is the root logger's, looked up at each call: configure() again changes it.
        cache_logger_on_first_use=True,
    )
    formatter = _formatter(json_logs, colors=stream is None and sys.stderr.isatty())
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Servers and libraries that print through handlers of their own go through ours instead.
    for name in ("granian", "_granian", "granian.access", "uvicorn", "uvicorn.error", "arq"):
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    # httpx logs every request at INFO; at fan-out rates that drowns everything else.
    for noisy in ("httpx", "httpcore", "aiohttp.access", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # arq logs every job at INFO, the per-second send tick included.
    logging.getLogger("arq.worker").setLevel(logging.WARNING if level > logging.DEBUG else level)
