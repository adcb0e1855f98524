"""A lint of the committed OpenAPI document (openapi/openapi.json), and of the app against it.

What a product team reads and generates clients from must be complete and true:

- every operation, parameter, request body, response, header, schema and schema property is
  described, and each has an example (a stock HTTP phrase is no description);
- every example matches its schema (formats, patterns and enums included);
- each operation lists the error codes it can answer, all from the catalogue, each under the
  HTTP status the catalogue gives it, and has one success answer;
- no answer the app can give is left undeclared: the app's own structure (which routes check
  credentials and quotas, which take a body) and a battery of requests against the running
  app (no or wrong credentials, a NUL in the query, unknown and malformed ids, bad parameter
  values, every example body, empty and broken bodies, a body over the size limit, a body
  that never arrives, the same request twice, an account over its quota) must meet declared
  statuses and headers. tests/e2e/test_fuzz.py adds schemathesis' random requests with the
  same check (status_code_conformance).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import jsonschema
import msgspec
import pytest
from litestar.routes import HTTPRoute
from redis.asyncio import Redis
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from sandbox.serving import serve_asgi
from service.app import create_app
from service.auth import require_account
from service.error_codes import CATALOGUE, INVALID_FIELD
from service.settings import Settings
from tests.support.servers import ROOT
from tests.support.tenants import new_tenant

DOCUMENT = ROOT / "openapi" / "openapi.json"
METHODS = ("get", "put", "post", "patch", "delete")
DOC_URI = "urn:comms:openapi"
# What Litestar (or HTTP itself) says when nobody wrote a description.
STOCK_PHRASES = {
    "Request fulfilled, document follows",
    "Document created, URL follows",
    "Request accepted, processing continues off-line",
    "Request fulfilled, nothing follows",
    "No Content",
    "Redirect Response",
    "Stream Response",
    "Successful Response",
    "",
}
# Headers of ours that an answer carries; each must be declared where it appears.
OUR_HEADERS = {
    "location",
    "operation-location",
    "operation-id",
    "resource-location",
    "idempotent-replayed",
    "retry-after",
    "www-authenticate",
    "x-request-id",
}


@functools.cache
def load() -> dict[str, Any]:
    """The committed document (read once; nothing here changes it)."""
    document: dict[str, Any] = json.loads(DOCUMENT.read_text())
    return document


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]
    where: str  # "paths" or "webhooks"

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def parameters(self) -> list[dict[str, Any]]:
        return [resolve(load(), p) for p in self.spec.get("parameters", [])]


def operations(document: dict[str, Any], where: str = "paths") -> Iterator[Operation]:
    for path, item in document.get(where, {}).items():
        for method, spec in item.items():
            if method in METHODS:
                yield Operation(method, path, spec, where)


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def has_example(node: dict[str, Any]) -> bool:
    return bool(node.get("examples")) or "example" in node


# Descriptions and examples -------------------------------------------------------------------


def test_every_operation_parameter_body_and_response_is_described_and_exemplified() -> None:
    document = load()
    problems: list[str] = []
    for op in [*operations(document), *operations(document, "webhooks")]:
        spec = op.spec
        for key in ("operationId", "summary", "description", "tags"):
            if not spec.get(key):
                problems.append(f"{op.name}: no {key}")
        for parameter in op.parameters:
            what = f"{op.name} parameter {parameter['name']}"
            if not parameter.get("description"):
                problems.append(f"{what}: no description")
            if not (has_example(parameter) or has_example(parameter.get("schema", {}))):
                problems.append(f"{what}: no example")
        body = spec.get("requestBody")
        if body is not None:
            if not body.get("description"):
                problems.append(f"{op.name} request body: no description")
            for media_type, media in body["content"].items():
                if not has_example(media):
                    problems.append(f"{op.name} request body {media_type}: no example")
        for status, response in spec["responses"].items():
            what = f"{op.name} {status}"
            if response.get("description", "").strip() in STOCK_PHRASES:
                problems.append(f"{what}: no description of its own")
            for media_type, media in (response.get("content") or {}).items():
                if not has_example(media):
                    problems.append(f"{what} {media_type}: no example")
            for name, header in (response.get("headers") or {}).items():
                header = resolve(document, header)
                if not header.get("description") or not has_example(header):
                    problems.append(f"{what} header {name}: no description or example")
    assert not problems, "\n".join(problems)


def test_every_schema_and_property_is_described_and_exemplified() -> None:
    problems: list[str] = []
    for name, schema in load()["components"]["schemas"].items():
        if not schema.get("description"):
            problems.append(f"{name}: no description")
        if not has_example(schema):
            problems.append(f"{name}: no example")
        for field, prop in schema.get("properties", {}).items():
            if not prop.get("description"):
                problems.append(f"{name}.{field}: no description")
    assert not problems, "\n".join(problems)


def _examples(node: Any, pointer: str) -> Iterator[tuple[str, str, Any]]:
    """(where, the JSON pointer of its schema, value) for every example in the document: a
    schema's `examples`, and a parameter's, header's or media type's `example(s)`."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _examples(item, f"{pointer}/{index}")
        return
    if not isinstance(node, dict):
        return
    # A parameter, header or media type holds its schema; a schema is its own.
    schema = f"{pointer}/schema" if isinstance(node.get("schema"), dict) else pointer
    found = node.get("examples")
    if isinstance(found, list):
        for index, value in enumerate(found):
            yield f"{pointer}/examples/{index}", schema, value
    elif isinstance(found, dict):
        for key, example in found.items():
            yield f"{pointer}/examples/{key}", schema, example.get("value")
    if "example" in node:
        yield f"{pointer}/example", schema, node["example"]
    for key, value in node.items():
        if key not in ("examples", "example"):
            yield from _examples(value, f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}")


def test_every_example_matches_its_schema() -> None:
    document = load()
    registry: Registry = Registry().with_resource(
        DOC_URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    checked = 0
    problems: list[str] = []
    for what, schema_pointer, value in _examples(document, ""):
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"{DOC_URI}#{schema_pointer}"},
            registry=registry,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )
        checked += 1
        problems += [f"{what}: {error.message}" for error in validator.iter_errors(value)]
    assert checked > 300
    assert not problems, "\n".join(problems)


# Errors, success answers ------------------------------------------------------------------


def test_each_operation_lists_the_catalogued_codes_it_answers() -> None:
    problems: list[str] = []
    for op in operations(load()):
        listed = op.spec.get("x-error-codes")
        if not listed:
            problems.append(f"{op.name}: no x-error-codes")
            continue
        shown: set[int] = set()
        for status, response in op.spec["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            media = response["content"]["application/json"]
            if media["schema"] != {"$ref": "#/components/schemas/ErrorBody"}:
                # GET /readyz's 503 is its readiness answer, not an error body.
                assert (op.name, status) == ("GET /readyz", "503"), op.name
                continue
            for key, example in media["examples"].items():
                code = int(key)
                shown.add(code)
                entry = CATALOGUE[code]
                allowed = {entry.http_status} | ({408} if entry is INVALID_FIELD else set())
                if int(status) not in allowed:
                    problems.append(f"{op.name} {status}: code {code} is {entry.http_status}")
                if example["value"]["errors"][0]["code"] != code:
                    problems.append(f"{op.name} {status}: example {key} shows another code")
                if f"[{code}](" not in response["description"]:
                    problems.append(f"{op.name} {status}: the description does not list {code}")
        if shown != set(listed):
            problems.append(f"{op.name}: x-error-codes {listed} but answers show {sorted(shown)}")
    assert not problems, "\n".join(problems)


def test_each_operation_has_one_success_answer() -> None:
    """A generated client's call then has one success type (the send: 202 only). The one
    operation with two statuses, the profile upsert (201 created, 200 updated), answers the
    same type with both."""
    for op in operations(load()):
        successes = [s for s in op.spec["responses"] if s.startswith(("2", "3"))]
        if op.name == "PUT /v1/Profiles/ExternalId/{externalId}":
            assert successes == ["200", "201"]
            schemas = {
                str(op.spec["responses"][s]["content"]["application/json"]["schema"])
                for s in successes
            }
            assert len(schemas) == 1, (op.name, schemas)
            continue
        assert len(successes) == 1, (op.name, successes)
    send = load()["paths"]["/v1/Messages"]["post"]["responses"]
    assert [s for s in send if s.startswith("2")] == ["202"]


# What the app can answer -----------------------------------------------------------------


def test_the_app_s_structure_is_declared(settings: Settings) -> None:
    """Every route that checks credentials declares 401, 429 and 503; every route that takes a
    body declares 408 and 413; every route declares 400 (a NUL in any query) and 500."""
    document = load()
    app = create_app(settings)
    problems: list[str] = []
    seen = 0
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            for method in handler.http_methods:
                spec = document["paths"].get(route.path_format, {}).get(method.lower())
                if spec is None:
                    problems.append(f"{method} {route.path_format}: not in the document")
                    continue
                seen += 1
                declared = {int(s) for s in spec["responses"]}
                wanted = {400, 500}
                if require_account in handler.resolve_guards():
                    wanted |= {401, 429, 503}
                if "data" in handler.parsed_fn_signature.parameters:
                    wanted |= {408, 413}
                if missing := wanted - declared:
                    problems.append(f"{method} {route.path_format}: {sorted(missing)} undeclared")
    assert seen == len(list(operations(document)))
    assert not problems, "\n".join(problems)


@dataclass
class Answered:
    what: str
    status: int
    headers: dict[str, str]


@dataclass
class Probe:
    """Requests against the running app, each answer checked against the document."""

    document: dict[str, Any]
    answers: list[tuple[Operation, Answered]]

    def check(self) -> list[str]:
        problems = []
        for op, answer in self.answers:
            responses = op.spec["responses"]
            declared = responses.get(str(answer.status))
            if declared is None:
                problems.append(f"{op.name} [{answer.what}]: {answer.status} is not declared")
                continue
            headers = {
                name.lower(): resolve(self.document, header)
                for name, header in (declared.get("headers") or {}).items()
            }
            for name in OUR_HEADERS & answer.headers.keys():
                if name not in headers:
                    problems.append(
                        f"{op.name} [{answer.what}] {answer.status}: header {name} undeclared"
                    )
            for name, header in headers.items():
                if header.get("required") and name not in answer.headers:
                    problems.append(f"{op.name} [{answer.what}] {answer.status}: no {name} header")
        return problems


def target(op: Operation, ids: dict[str, str] | None = None, query: str = "") -> str:
    path = op.path
    for parameter in op.parameters:
        if parameter["in"] == "path":
            value = (ids or {}).get(parameter["name"]) or example_of(parameter)
            path = path.replace(
                "{" + parameter["name"] + "}", urllib.parse.quote(str(value), safe="")
            )
    return path + query


def example_of(node: dict[str, Any]) -> Any:
    if "example" in node:
        return node["example"]
    if node.get("examples"):
        examples = node["examples"]
        return examples[0] if isinstance(examples, list) else next(iter(examples.values()))
    return example_of(node["schema"])


@dataclass
class Battery:
    """The requests of the probe, against one running app, as one account."""

    document: dict[str, Any]
    url: str
    http: httpx.AsyncClient
    anonymous: httpx.AsyncClient
    credentials: bytes
    answers: list[tuple[Operation, Answered]]

    async def call(self, op: Operation, what: str, *, anonymous: bool = False, **kw: Any) -> None:
        client = self.anonymous if anonymous else self.http
        response = await client.request(op.method.upper(), kw.pop("path", target(op)), **kw)
        self.answers.append((op, Answered(what, response.status_code, dict(response.headers))))

    async def at_the_door(self, op: Operation) -> None:
        await self.call(op, "no credentials", anonymous=True)
        await self.call(op, "wrong credentials", anonymous=True, auth=("AC" + "0" * 32, "x"))

    async def nul_in_the_query(self, op: Operation) -> None:
        await self.call(op, "NUL in the query", path=target(op, query="?x=%00"))

    async def ids_and_parameters(self, op: Operation) -> None:
        await self.call(op, "unknown id")
        ids = {p["name"]: "nope" for p in op.parameters if p["in"] == "path"}
        if ids:
            await self.call(op, "malformed id", path=target(op, ids))
        for parameter in op.parameters:
            if parameter["in"] == "query":
                bad = urllib.parse.urlencode({parameter["name"]: "%zz\x01"})
                await self.call(op, f"bad {parameter['name']}", path=target(op, query="?" + bad))

    async def bodies(self, op: Operation) -> None:
        if "requestBody" not in op.spec:
            return
        for what, body in example_bodies(op):
            await self.call(op, what, json=body)
            await self.call(op, f"{what} again", json=body)
        for media_type, what, text in text_example_bodies(op):
            await self.call(op, what, content=text.encode(), headers={"content-type": media_type})
        json_type = {"content-type": "application/json"}
        await self.call(op, "empty object", json={})
        await self.call(op, "broken JSON", content=b"{", headers=json_type)
        await self.call(op, "over the size limit", content=b" " * 5000, headers=json_type)
        head = (
            f"{op.method.upper()} {target(op)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n"
        ).encode()
        request = head + b"Authorization: " + self.credentials + b"\r\n\r\n{"
        status, headers = await raw_exchange(self.url, request)
        self.answers.append((op, Answered("a body that never arrives", status, headers)))

    async def idempotent_sends(self, send: Operation) -> None:
        [(_, first), (_, second), *_] = example_bodies(send)
        key = {"Idempotency-Key": "lint-replay"}
        await self.call(send, "keyed", json=first, headers=key)
        await self.call(send, "keyed replay", json=first, headers=key)
        await self.call(send, "same key, another body", json=second, headers=key)
        await self.call(send, "dryRun on the send", json=first, path="/v1/Messages?dryRun=true")


def example_bodies(op: Operation) -> list[tuple[str, Any]]:
    media = op.spec["requestBody"]["content"].get("application/json", {"examples": {}})
    return [(f"body {key}", e["value"]) for key, e in media["examples"].items()]


def text_example_bodies(op: Operation) -> list[tuple[str, str, str]]:
    """The examples of a body that is not JSON (the profile import's NDJSON and CSV)."""
    return [
        (media_type, f"{media_type} body {key}", e["value"])
        for media_type, media in op.spec["requestBody"]["content"].items()
        if media_type != "application/json"
        for key, e in media["examples"].items()
    ]


async def raw_exchange(base_url: str, request: bytes) -> tuple[int, dict[str, str]]:
    """Send bytes as they are (an HTTP client would not send a short body) and read the answer
    until the server closes the connection."""
    url = httpx.URL(base_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(request)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        async with asyncio.timeout(10):
            data = await reader.read()
    finally:
        writer.close()
    head, _, _ = data.partition(b"\r\n\r\n")
    status_line, *lines = head.split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode()] = value.strip().decode()
    return int(status_line.split()[1]), headers


@pytest.mark.timeout(120)
async def test_every_answer_the_running_app_gives_is_declared(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    document = load()
    v1 = [op for op in operations(document) if op.path.startswith("/v1/")]
    others = [op for op in operations(document) if not op.path.startswith("/v1/")]
    send = next(op for op in v1 if op.name == "POST /v1/Messages")
    answers: list[tuple[Operation, Answered]] = []
    tenant = await new_tenant(pool)
    credentials = b"Basic " + base64.b64encode(f"{tenant.account_sid}:{tenant.auth_token}".encode())

    # A small body limit and a short read timeout make 413 and 408 cheap to provoke.
    strict = msgspec.structs.replace(settings, max_body_bytes=4096, body_read_timeout_s=0.3)
    async with (
        serve_asgi(create_app(strict)) as url,
        httpx.AsyncClient(base_url=url, auth=tenant.auth, timeout=30) as http,
        httpx.AsyncClient(base_url=url, timeout=30) as anonymous,
    ):
        battery = Battery(document, url, http, anonymous, credentials, answers)
        for op in v1:
            await battery.at_the_door(op)
            await battery.ids_and_parameters(op)
            await battery.bodies(op)
        for op in [*v1, *others]:
            await battery.nul_in_the_query(op)
        await battery.idempotent_sends(send)

    # Over the quota: every API route refuses before doing anything else.
    quota = msgspec.structs.replace(settings, api_requests_per_second=0.001, api_request_burst=1)
    over = await new_tenant(pool)
    async with (
        serve_asgi(create_app(quota)) as url,
        httpx.AsyncClient(base_url=url, auth=over.auth, timeout=30) as http,
    ):
        await http.get("/v1/Senders")
        battery = Battery(document, url, http, http, b"", answers)
        for op in v1:
            await battery.call(op, "over the quota")

    statuses = {answer.status for _, answer in answers}
    # The battery reaches every kind of answer it means to.
    assert {200, 201, 202, 204, 400, 401, 404, 408, 409, 413, 422, 429} <= statuses, statuses
    problems = Probe(document, answers).check()
    assert not problems, "\n".join(problems)
