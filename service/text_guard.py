"""U+0000 is refused at the door: PostgreSQL can store it neither in text nor in jsonb.

Without this, a NUL in a query parameter or anywhere in a JSON body (a variable, a tag, the
text) reaches the driver and ends as a 500. It answers 400 with the path of every such field.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request

from service.errors import CODE_INVALID_FIELD, Problem, ValidationFailed

NUL = "\x00"
_JSON_NUL = b"\\u0000"
MESSAGE = "must not contain the NUL character (U+0000)"


async def refuse_nul_characters(request: Request[Any, Any, Any]) -> None:
    """Litestar before_request hook: raise ValidationFailed naming each field holding U+0000."""
    paths = [f"$.{name}" for name, value in request.query_params.items() if NUL in name + value]
    if request.method in ("POST", "PUT", "PATCH") and "json" in request.content_type[0]:
        body = await request.body()
        # A raw NUL byte is invalid JSON (the decoder refuses it); only the escape can hide one.
        if _JSON_NUL in body:
            try:
                document = msgspec.json.decode(body)
            except msgspec.DecodeError:
                document = None  # the handler's decoding reports it
            paths.extend(nul_paths(document, "$"))
    if paths:
        raise ValidationFailed(
            [
                Problem(CODE_INVALID_FIELD, MESSAGE, path)
                for path in paths[: ValidationFailed.MAX_PROBLEMS]
            ]
        )


def nul_paths(value: object, path: str) -> list[str]:
    """The JSON paths of the strings (or object keys) in value that contain U+0000."""
    if isinstance(value, str):
        return [path] if NUL in value else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}"
            found.extend([child] if NUL in key else nul_paths(item, child))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(nul_paths(item, f"{path}[{index}]"))
    return found
