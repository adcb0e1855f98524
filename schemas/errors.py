"""The error body every 4xx/5xx answer carries."""

from __future__ import annotations

import msgspec


class ErrorItem(msgspec.Struct, rename="camel", omit_defaults=False):
    code: int
    message: str
    info_url: str
    context: str | None = None


class ErrorBody(msgspec.Struct):
    errors: list[ErrorItem]
