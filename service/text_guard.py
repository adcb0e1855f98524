"""Request text the API refuses at the door, as 4xx answers instead of 500s further in.

U+0000: PostgreSQL can store it neither in text nor in jsonb. Without the check, a NUL in a
query parameter, a form field or anywhere in a JSON body (a variable, a tag, the text) reaches
the driver and ends as a 500. It answers 400 with the path of every such field.

Bodies that cannot be read or decoded (GuardedRequest): Litestar turns only msgspec's
DecodeError into a client error, but msgspec raises UnicodeDecodeError for bytes that are not
UTF-8 and RecursionError for arrays or objects nested deeper than the interpreter's recursion
limit (about a thousand levels), and Litestar answers 500 when the client goes away before its
Content-Length was sent. Each is a 400 (408 for a body still missing after
`body_read_timeout_s`) whose context is `$`, the whole body.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import InternalServerException, SerializationException

from service import error_codes
from service.errors import ApiError, Problem, ValidationFailed
from service.settings import Settings

NUL = "\x00"
_JSON_NUL = b"\\u0000"
MESSAGE = "must not contain the NUL character (U+0000)"
_FORMS = (RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART)
# Litestar's Request.stream raises InternalServerException with this text on http.disconnect.
_CLIENT_GONE = "client disconnected prematurely"


class MalformedBody(ApiError):
    """The request body is not a JSON document."""

    status_code = 400
    code = error_codes.INVALID_FIELD.code


class IncompleteBody(ApiError):
    """The connection closed before the whole request body (its Content-Length) arrived."""

    status_code = 400
    code = error_codes.INVALID_FIELD.code


class BodyTimeout(ApiError):
    """The whole request body did not arrive in time."""

    status_code = 408
    code = error_codes.INVALID_FIELD.code
    headers = {"Connection": "close"}


class GuardedRequest(Request[Any, Any, Any]):
    """Litestar's Request whose body reading and JSON decoding fail as 4xx answers."""

    async def body(self) -> bytes:
        settings: Settings = self.app.state.comms.settings
        try:
            async with asyncio.timeout(settings.body_read_timeout_s):
                return await super().body()
        except TimeoutError as exc:
            raise BodyTimeout(context="$") from exc
        except InternalServerException as exc:
            if exc.detail != _CLIENT_GONE:
                raise
            raise IncompleteBody(context="$") from exc

    async def json(self) -> Any:
        try:
            return await super().json()
        except SerializationException as exc:  # what Litestar makes of msgspec's DecodeError
            raise MalformedBody(exc.detail, context="$") from exc
        except UnicodeDecodeError as exc:
            raise MalformedBody("The body is not UTF-8 text", context="$") from exc
        except RecursionError as exc:
            raise MalformedBody("The JSON document is nested too deeply", context="$") from exc


async def refuse_nul_characters(request: Request[Any, Any, Any]) -> None:
    """Litestar before_request hook: raise ValidationFailed naming each field holding U+0000."""
    paths = [f"$.{name}" for name, value in request.query_params.items() if NUL in name + value]
    content_type = request.content_type[0]
    has_body = request.method in ("POST", "PUT", "PATCH")
    if has_body and "json" in content_type:
        # A raw NUL byte is invalid JSON (the decoder refuses it); only the escape can hide one.
        # The document is decoded once: the handler gets the one decoded here.
        if _JSON_NUL in await request.body():
            paths.extend(nul_paths(await request.json(), "$"))
    elif has_body and content_type in _FORMS:  # the provider's callbacks
        form = await request.form()
        paths.extend(
            f"$.{name}"
            for name, value in form.multi_items()
            if NUL in name or (isinstance(value, str) and NUL in value)
        )
    if paths:
        raise ValidationFailed(
            [
                Problem(error_codes.INVALID_FIELD.code, MESSAGE, path)
                for path in paths[: ValidationFailed.MAX_PROBLEMS]
            ]
        )


def nul_paths(value: object, path: str) -> list[str]:
    """The JSON paths of the strings (or object keys) in value that contain U+0000, in order.

    A loop over a stack rather than recursion: a document nested as deep as the decoder
    allows would exhaust the interpreter's own recursion limit here.
    """
    found: list[str] = []
    pending: list[tuple[str, object]] = [(path, value)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if NUL in value:
                found.append(path)
        elif isinstance(value, dict):
            # Children are pushed last first, so they are visited in document order; a key that
            # holds U+0000 is reported in its place (as a NUL value) and its value not visited.
            pending.extend(
                (f"{path}.{key}", NUL if NUL in key else item)
                for key, item in reversed(value.items())
            )
        elif isinstance(value, list):
            pending.extend(
                (f"{path}[{index}]", value[index]) for index in range(len(value) - 1, -1, -1)
            )
    return found
