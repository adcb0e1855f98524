"""Twilio's side of the fidelity tests: its published OpenAPI documents as JSON Schema
validators, its helper library's signature check, and its SDK pointed at a sandbox."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator

from sandbox.settings import DEFAULT_AUTH_TOKEN
from sandbox.testing import ReceivedWebhook

# A copy of Twilio's published schemas (MIT, see its LICENSE), kept in the repository so the
# fidelity tests run in any checkout.
OPENAPI_DIR = Path(__file__).resolve().parents[1] / "sandbox" / "twilio_openapi"

TWILIO_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message", "more_info", "status"],
    "additionalProperties": False,
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string", "minLength": 1},
        "more_info": {"type": "string", "pattern": r"^https://www\.twilio\.com/docs/errors/\d+$"},
        "status": {"type": "integer"},
    },
}

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_ISO8601 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
_SCHEMA_ONLY = ("description", "x-twilio", "example", "examples", "nullable")


def _rfc2822(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parsed = parsedate_to_datetime(value)
    return parsed.tzinfo is not None and value.endswith("+0000")


def _iso8601(value: object) -> bool:
    return not isinstance(value, str) or _ISO8601.match(value) is not None


def _phone_number(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return _E164.match(value.removeprefix("whatsapp:")) is not None


def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return value.startswith("/") or (parts.scheme in ("http", "https") and bool(parts.netloc))


def _currency(value: object) -> bool:
    return not isinstance(value, str) or re.match(r"^[A-Za-z]{3}$", value) is not None


def _uri_map(value: object) -> bool:
    return not isinstance(value, dict) or all(_uri(v) for v in value.values())


# The formats Twilio's documents use. Quirks: `uri` values are relative to the API host
# (`/2010-04-01/...`), and `phone-number` also covers channel addresses.
_FORMATS: dict[str, Callable[[object], bool]] = {
    "date-time-rfc-2822": _rfc2822,
    "date-time": _iso8601,
    "phone-number": _phone_number,
    "uri": _uri,
    "currency": _currency,
    "uri-map": _uri_map,
}


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())
    for name, check in _FORMATS.items():
        checker.checks(name)(check)
    return checker


class TwilioSchemas:
    """Response schemas of one of Twilio's OpenAPI documents, as JSON Schema validators."""

    def __init__(self, path: Path) -> None:
        self.document = json.loads(path.read_text())
        self.format_checker = _format_checker()

    def _resolve(self, ref: str) -> Any:
        node: Any = self.document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node

    def _convert(self, node: Any) -> Any:
        """OpenAPI 3.0 schema -> JSON Schema: inline $refs, `nullable: true` -> `| null`."""
        if isinstance(node, list):
            return [self._convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return self._convert(self._resolve(node["$ref"]))
        converted: dict[str, Any] = {}
        for key, value in node.items():
            if key in _SCHEMA_ONLY:
                continue
            if key == "properties":
                converted[key] = {name: self._convert(sub) for name, sub in value.items()}
            else:
                converted[key] = self._convert(value)
        if node.get("nullable"):
            return {"anyOf": [converted, {"type": "null"}]}
        return converted

    def schema(self, path: str, method: str, status: int) -> dict[str, Any]:
        response = self.document["paths"][path][method]["responses"][str(status)]
        schema: dict[str, Any] = self._convert(response["content"]["application/json"]["schema"])
        return schema

    def component(self, name: str) -> dict[str, Any]:
        schema: dict[str, Any] = self._convert(self.document["components"]["schemas"][name])
        return schema

    def validate(self, path: str, method: str, status: int, body: Any) -> None:
        jsonschema.validate(
            body, self.schema(path, method, status), format_checker=self.format_checker
        )

    def validate_error(self, body: Any) -> None:
        jsonschema.validate(body, TWILIO_ERROR_SCHEMA)


def assert_signed(webhook: ReceivedWebhook, auth_token: str = DEFAULT_AUTH_TOKEN) -> None:
    """The official helper library accepts the sandbox's X-Twilio-Signature."""
    validator = RequestValidator(auth_token)
    signature = webhook.headers["x-twilio-signature"]
    assert validator.validate(webhook.url, webhook.form, signature), webhook


class LoopbackHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio is untyped
    """Sends the SDK's requests (api.twilio.com, conversations.twilio.com) to the sandbox."""

    def __init__(self, base_url: str) -> None:
        super().__init__(timeout=15)
        self.base_url = base_url
        if self.session is not None:
            self.session.trust_env = False

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> TwilioResponse:
        parts = urlsplit(url)
        target = f"{self.base_url}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        return super().request(method, target, *args, **kwargs)
