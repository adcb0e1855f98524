"""Fixtures for the sandbox tests: the sandbox and a webhook receiver as real loopback servers,
Twilio's OpenAPI schemas as validators, and the official twilio SDK pointed at the sandbox."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema
import pytest
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from sandbox.app import create_app
from sandbox.serving import serve_asgi
from sandbox.settings import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    SandboxAccount,
    SandboxSettings,
)
from sandbox.testing import ReceivedWebhook, WebhookReceiver

# A copy of Twilio's published schemas (MIT, see its LICENSE), kept in the repository so the
# fidelity tests run in any checkout.
OPENAPI_DIR = Path(__file__).resolve().parent / "twilio_openapi"
SECOND_ACCOUNT_SID = "AC" + "b" * 32
SECOND_AUTH_TOKEN = "second-token"

# Fast settings for tests: no delays between steps, no sender throttling, quick retries.
TEST_SETTINGS = SandboxSettings(
    accounts=(
        SandboxAccount(sid=DEFAULT_ACCOUNT_SID, auth_token=DEFAULT_AUTH_TOKEN),
        SandboxAccount(sid=SECOND_ACCOUNT_SID, auth_token=SECOND_AUTH_TOKEN),
    ),
    callback_delay_ms=0,
    default_mps=0,
    callback_retry_delays_ms=(5, 10),
    callback_timeout_s=2.0,
)

# --- Twilio's OpenAPI documents as JSON Schema -------------------------------------------------

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


def _format_checker() -> jsonschema.FormatChecker:
    """Checks for the formats Twilio's documents use. Quirks: `uri` values are relative to
    the API host (`/2010-04-01/...`), and `phone-number` also covers channel addresses."""
    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("date-time-rfc-2822")
    def rfc2822(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parsed = parsedate_to_datetime(value)
        return parsed.tzinfo is not None and value.endswith("+0000")

    @checker.checks("date-time")
    def iso8601(value: object) -> bool:
        return not isinstance(value, str) or _ISO8601.match(value) is not None

    @checker.checks("phone-number")
    def phone_number(value: object) -> bool:
        if not isinstance(value, str):
            return True
        return _E164.match(value.removeprefix("whatsapp:")) is not None

    @checker.checks("uri")
    def uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return value.startswith("/") or (parts.scheme in ("http", "https") and bool(parts.netloc))

    @checker.checks("currency")
    def currency(value: object) -> bool:
        return not isinstance(value, str) or re.match(r"^[A-Za-z]{3}$", value) is not None

    @checker.checks("uri-map")
    def uri_map(value: object) -> bool:
        return not isinstance(value, dict) or all(uri(v) for v in value.values())

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
        return self._convert(response["content"]["application/json"]["schema"])

    def component(self, name: str) -> dict[str, Any]:
        return self._convert(self.document["components"]["schemas"][name])

    def validate(self, path: str, method: str, status: int, body: Any) -> None:
        jsonschema.validate(
            body, self.schema(path, method, status), format_checker=self.format_checker
        )

    def validate_error(self, body: Any) -> None:
        jsonschema.validate(body, TWILIO_ERROR_SCHEMA)


@pytest.fixture(scope="session")
def messages_schema() -> TwilioSchemas:
    return TwilioSchemas(OPENAPI_DIR / "messages_v2010.json")


@pytest.fixture(scope="session")
def conversations_schema() -> TwilioSchemas:
    return TwilioSchemas(OPENAPI_DIR / "conversations_v1.json")


def assert_signed(webhook: ReceivedWebhook, auth_token: str = DEFAULT_AUTH_TOKEN) -> None:
    """The official helper library accepts the sandbox's X-Twilio-Signature."""
    validator = RequestValidator(auth_token)
    signature = webhook.headers["x-twilio-signature"]
    assert validator.validate(webhook.url, webhook.form, signature), webhook


@pytest.fixture(scope="session")
def check_signature() -> Callable[..., None]:
    return assert_signed


# --- servers ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def sandbox_url() -> AsyncIterator[str]:
    async with serve_asgi(create_app(TEST_SETTINGS)) as url:
        yield url


@pytest.fixture(scope="session")
async def receiver_server() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    async with serve_asgi(receiver) as url:
        receiver.base_url = url
        yield receiver


@pytest.fixture
async def receiver(receiver_server: WebhookReceiver) -> WebhookReceiver:
    receiver_server.reset()
    return receiver_server


class SandboxApi:
    """An httpx client for one sandbox, with the default account's credentials."""

    def __init__(self, base_url: str, client: httpx.AsyncClient) -> None:
        self.base_url = base_url
        self.http = client
        self.account_sid = DEFAULT_ACCOUNT_SID
        self.messages_path = f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"

    async def send(self, data: Any = None, **fields: str) -> httpx.Response:
        return await self.http.post(self.messages_path, data=data if data is not None else fields)

    async def fetch(self, sid: str) -> httpx.Response:
        return await self.http.get(f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json")

    async def drain(self) -> None:
        response = await self.http.post("/sandbox/drain", params={"timeout": 10})
        assert response.status_code == 200, response.text
        assert response.json()["drained"] is True

    async def sent(self) -> list[dict[str, Any]]:
        response = await self.http.get("/sandbox/messages")
        assert response.status_code == 200
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages

    async def configure(self, **changes: Any) -> dict[str, Any]:
        response = await self.http.post("/sandbox/config", json=changes)
        assert response.status_code == 200, response.text
        config: dict[str, Any] = response.json()
        return config


@pytest.fixture
async def sandbox(sandbox_url: str) -> AsyncIterator[SandboxApi]:
    async with httpx.AsyncClient(
        base_url=sandbox_url, auth=(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN), timeout=15
    ) as client:
        assert (await client.post("/sandbox/reset")).status_code == 200
        yield SandboxApi(sandbox_url, client)


# --- the official SDK, pointed at the sandbox ---------------------------------------------------


class LoopbackHttpClient(TwilioHttpClient):
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


@pytest.fixture
def twilio_client(sandbox: SandboxApi) -> Client:
    return Client(
        DEFAULT_ACCOUNT_SID,
        DEFAULT_AUTH_TOKEN,
        http_client=LoopbackHttpClient(sandbox.base_url),
    )
