"""Raw malformed requests against the running API: never a 5xx, never a hang.

tests/test_fuzz.py sends schema-shaped requests; these are the bytes no schema describes:
truncated JSON, other encodings (latin-1, UTF-16, UTF-32, invalid UTF-8), documents nested
100,000 levels deep, NUL bytes, huge bodies, Content-Types that lie, bodies shorter than their
Content-Length, Authorization headers that are not base64 or not UTF-8, broken
percent-encoding and huge or repeated query parameters, on every /v1 route of the served
OpenAPI document and on the provider callbacks (signed and unsigned). They go over a plain
socket exactly as written here: an HTTP client would refuse or repair most of them.

Every case is listed here or drawn from a random.Random with a fixed seed, so a failure
replays exactly. Cases rotate over several accounts, so no account's request quota is spent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import random
import secrets
import urllib.parse
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from sandbox.serving import serve_asgi
from service import error_codes
from service.accounts import logic as accounts
from service.app import create_app
from service.callbacks.signature import compute_signature
from service.settings import Settings
from tests.support.api import api_error_body
from tests.support.clock import TestClock
from tests.support.tenants import Tenant

SEED = 20261203
TENANTS = 4
# A bound on each exchange, so that a hang fails the test with its case named.
ANSWER_WITHIN_S = 30.0
DEEP = 100_000
# uvicorn (h11) refuses a request head over 16 KiB that does not arrive in one read, and then
# resets the connection; queries stay under it, but for the one case that tests exactly that.
HEAD_BUDGET = 12_000

CALLBACK_PATHS = [
    "/callbacks/twilio/messages/status",
    "/callbacks/twilio/conversations",
    "/callbacks/twilio/messages/inbound",
]
JSON = b"application/json"
FORM = b"application/x-www-form-urlencoded"


# Raw HTTP/1.1 over a socket -----------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def as_response(self) -> httpx.Response:
        return httpx.Response(self.status, headers=self.headers, content=self.body)


def raw_request(
    method: str,
    target: bytes,
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: bytes = b"",
    *,
    content_length: int | None = None,
) -> bytes:
    """The request's bytes; Content-Length is the body's unless a lie is asked for."""
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines += [b"Connection: close", *(name + b": " + value for name, value in headers)]
    if body or content_length is not None or method in ("POST", "PATCH"):
        length = len(body) if content_length is None else content_length
        lines.append(b"Content-Length: " + str(length).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def exchange(base_url: str, request: bytes) -> Answer | None:
    """Send the bytes on a new connection and read the answer until the server closes it
    (None: it closed without answering)."""
    url = httpx.URL(base_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(request)
        # The server may answer before reading all of it: its answer is still to be read.
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        async with asyncio.timeout(ANSWER_WITHIN_S):
            data = await reader.read()
    finally:
        writer.close()
    return parse_answer(data)


def parse_answer(data: bytes) -> Answer | None:
    if not data:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return Answer(int(status_line.split(b" ")[1]), headers, body)


def dechunk(data: bytes) -> bytes:
    out = bytearray()
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += data[:size]
        data = data[size + 2 :]


def is_server_refusal(answer: Answer) -> bool:
    """uvicorn's own 400 for bytes that are not HTTP/1.1 (the app never sees them)."""
    return answer.status == 400 and answer.headers.get("content-type", "").startswith("text/plain")


# The cases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BodyCase:
    name: str
    body: bytes
    content_type: bytes | None = JSON
    # Undecodable as a whole (not merely invalid for the route): 400, context "$", everywhere.
    undecodable: bool = False


def nested(depth: int, rng: random.Random | None = None, leaf: bytes = b"1") -> bytes:
    """A document `depth` levels deep: arrays, or arrays and objects drawn from rng."""
    opens: list[bytes] = []
    closes: list[bytes] = []
    for _ in range(depth):
        is_object = rng is not None and rng.random() < 0.5
        opens.append(b'{"k":' if is_object else b"[")
        closes.append(b"}" if is_object else b"]")
    return b"".join(opens) + leaf + b"".join(reversed(closes))


def body_cases(rng: random.Random) -> list[BodyCase]:
    text = '{"to": [{"address": "+15558675310"}], "content": {"text": "café ☃"}}'
    return [
        BodyCase("arrays 100,000 deep", b"[" * DEEP + b"]" * DEEP, undecodable=True),
        BodyCase("objects 100,000 deep", b'{"a":' * DEEP + b"1" + b"}" * DEEP, undecodable=True),
        BodyCase("deep under to", b'{"to":' + nested(DEEP) + b"}", undecodable=True),
        BodyCase("deep and mixed", nested(DEEP, rng, b'"x"'), undecodable=True),
        BodyCase("deep, never closed", b"[" * DEEP, undecodable=True),
        BodyCase("deep NUL escape", nested(DEEP, rng, b'"\\u0000"'), undecodable=True),
        *(BodyCase(f"{depth} deep", nested(depth, rng)) for depth in (500, 900, 990, 1_000, 2_000)),
        BodyCase("invalid UTF-8", b'{"to": "\xff\xfe"}', undecodable=True),
        BodyCase("invalid UTF-8 and NUL", b'{"a": "\xff\\u0000"}', undecodable=True),
        BodyCase("overlong UTF-8", b'{"content": {"text": "\xc0\xaf"}}', undecodable=True),
        BodyCase("UTF-8 surrogate", b'{"content": {"text": "\xed\xa0\x80"}}', undecodable=True),
        BodyCase("cut UTF-8", b'{"content": {"text": "\xe2\x82"}}', undecodable=True),
        BodyCase("latin-1", text.replace("☃", "").encode("latin-1"), undecodable=True),
        BodyCase("UTF-16", text.encode("utf-16"), undecodable=True),
        BodyCase("UTF-16-LE", text.encode("utf-16-le"), undecodable=True),
        BodyCase("UTF-32", text.encode("utf-32"), undecodable=True),
        BodyCase("UTF-8 BOM", b"\xef\xbb\xbf" + text.encode()),
        BodyCase("truncated", text.encode()[:20], undecodable=True),
        BodyCase("truncated array", b'{"to": [', undecodable=True),
        BodyCase("trailing comma", b'{"a": 1,}', undecodable=True),
        BodyCase("raw NUL", b'{"a": "\x00"}', undecodable=True),
        BodyCase("NUL bytes", b"\x00" * 64, undecodable=True),
        BodyCase("NUL escape", b'{"to": [{"address": "\\u0000"}], "content": {"text": "x"}}'),
        BodyCase("NUL escape in a key", b'{"\\u0000": 1}'),
        BodyCase("random bytes", rng.randbytes(512), undecodable=True),
        BodyCase("huge string", b'{"content": {"text": "' + b"x" * 2_000_000 + b'"}}'),
        BodyCase("huge array", b"[" + b"1," * 300_000 + b"1]"),
        BodyCase("huge number", b"9" * 100_000),
        BodyCase("huge exponent", b'{"mps": 1e999999}'),
        BodyCase("empty", b""),
        BodyCase("JSON said to be text", text.encode(), b"text/plain"),
        BodyCase("form said to be JSON", b"to=%2B1555&content=x"),
        BodyCase("JSON said to be a form", text.encode(), FORM),
        BodyCase("JSON said to be UTF-16", text.encode(), b"application/json; charset=utf-16"),
        BodyCase("no Content-Type", text.encode(), None),
        BodyCase("garbage Content-Type", text.encode(), b"\xff\xfe/\x01"),
        BodyCase("multipart without boundary", b"--x\r\n", b"multipart/form-data"),
        BodyCase("broken multipart", b"--x\r\nContent-Disp", b"multipart/form-data; boundary=x"),
        BodyCase("form with invalid UTF-8", b"a=%ff%fe&\xff=\xfe", FORM),
        BodyCase("form with NUL", b"a=%00&b=\x00", FORM),
    ]


QUERY_VALUES = [
    b"%ff%fe",
    b"%",
    b"%zz",
    b"%0",
    b"%00",
    b"%C0%AF",
    b"%ED%A0%80",
    b"%E2%80%AE",
    b"%C2%B2",  # "²": a digit to str.isdigit, not to int()
    b"%D9%A3",  # an Arabic-Indic digit
    b"-1",
    b"99999999999999999999999",
    b"1e999",
    b"NaN",
    b"",
    b"x" * 2_000,
    b"%5B%5B%5B",
    b"a:b;" * 200,
    b"2026-13-45T99:99:99Z",
    b"\\u0000",
]
JUNK_NAMES = [b"%ff", b"", b"a[b]", b"pageSize%00", b"%3D"]

PATH_VALUES = [
    b"%ff%fe",
    b"%00",
    b"%",
    b"%zz",
    b"..%2F..%2F",
    b"x" * 4_000,
    b"%E2%80%AE",
    b"comms_operation_" + b"f" * 200,
    b"%20",
    b"%C0%AF",
    b"comms_message_%00",
    b"+1%00555",
]


def basic(user: bytes, password: bytes) -> bytes:
    return b"Basic " + base64.b64encode(user + b":" + password)


BAD_AUTHORIZATION = [
    b"Basic !!!!",
    b"Basic \xff\xfe",
    basic(b"\xff\xfe", b"\xff"),
    base64.b64encode(b"nocolon"),
    b"Basic " + base64.b64encode(b"nocolon"),
    basic(b"", b""),
    basic(b"AC" + b"\x00" * 32, b"x"),
    basic(b"AC" + "é".encode() * 32, b"x"),
    basic(b"AC" + b"-" * 32, b"x"),
    basic(b"SK" + b"0" * 32, b"\x00"),
    b"Basic",
    b"Basic ",
    b"Basic " + b"A" * 8_000,
    b"Basic " + base64.b64encode(b"AC" + b"0" * 32 + b":x")[:-2],
    b"Bearer x",
    b"Digest username=x",
]


# Routes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    query_names: tuple[bytes, ...]
    has_body: bool

    def target(self, path_value: bytes = b"comms_none") -> bytes:
        parts = self.path.encode().split(b"/")
        return b"/".join(path_value if p.startswith(b"{") else p for p in parts)

    @property
    def has_path_parameters(self) -> bool:
        return "{" in self.path


def v1_operations(document: dict[str, Any]) -> list[Operation]:
    found = []
    for path, item in document["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in item.items():
            parameters = operation.get("parameters", [])
            names = tuple(p["name"].encode() for p in parameters if p.get("in") == "query")
            # A JSON body (the profile import's NDJSON or CSV is refused 415 when called JSON).
            json_body = "application/json" in operation.get("requestBody", {}).get("content", {})
            found.append(Operation(method.upper(), path, names, json_body))
    return found


# The fuzzer ---------------------------------------------------------------------------------


@dataclass
class RawFuzz:
    """Sends cases as rotating accounts and collects every broken rule (not just the first)."""

    base_url: str
    tenants: list[Tenant]
    failures: list[str] = field(default_factory=list)
    sent: int = 0
    _turn: Iterator[Tenant] = field(init=False)

    def __post_init__(self) -> None:
        self._turn = itertools.cycle(self.tenants)

    def authorization(self) -> tuple[bytes, bytes]:
        tenant = next(self._turn)
        return b"Authorization", basic(tenant.account_sid.encode(), tenant.auth_token.encode())

    async def send(
        self, what: str, request: bytes, *, server_may_refuse: bool = False
    ) -> Answer | None:
        """Send one case; record why its answer breaks the rules, if it does."""
        self.sent += 1
        try:
            answer = await exchange(self.base_url, request)
        except TimeoutError:
            self.failures.append(f"{what}: no answer within {ANSWER_WITHIN_S} s")
            return None
        except ConnectionError as exc:
            if not server_may_refuse:  # a refusal may be a reset, once the head is too long
                self.failures.append(f"{what}: {exc!r} without an answer")
            return None
        if answer is None:
            self.failures.append(f"{what}: the connection closed without an answer")
        elif answer.status >= 500:
            self.failures.append(f"{what}: {answer.status} {answer.body[:300]!r}")
        elif answer.status >= 400 and not (server_may_refuse and is_server_refusal(answer)):
            try:
                api_error_body(None, answer.as_response(), None)
            except (AssertionError, ValueError) as exc:
                self.failures.append(f"{what}: {answer.status} {exc} {answer.body[:300]!r}")
        return answer

    def expect(self, what: str, answer: Answer | None, status: int, context: str | None) -> None:
        """One error of `status` with code 90001 (or 20003 for a 401) at `context`."""
        if answer is None or answer.status >= 500:
            return  # recorded by send
        if answer.status != status:
            self.failures.append(f"{what}: {answer.status}, not {status}: {answer.body[:200]!r}")
            return
        code = 20003 if status == 401 else error_codes.INVALID_FIELD.code
        [error] = msgspec.json.decode(answer.body)["errors"]
        if (error["code"], error["context"]) != (code, context):
            self.failures.append(f"{what}: {error}, not code {code} at {context!r}")

    def assert_clean(self) -> None:
        assert not self.failures, f"{len(self.failures)} of {self.sent} cases:\n" + "\n".join(
            self.failures
        )


@pytest.fixture
async def tenants(pool: asyncpg.Pool, redis: Redis) -> list[Tenant]:
    """Accounts of this test's own; the cases rotate over them (redis: quotas start afresh)."""
    made = []
    for _ in range(TENANTS):
        created = await accounts.create_account(pool, f"raw-fuzz-{secrets.token_hex(4)}")
        assert created.auth_token is not None
        made.append(Tenant(created.account_sid, created.auth_token))
    return made


@pytest.fixture
async def operations(anonymous: httpx.AsyncClient) -> list[Operation]:
    document = (await anonymous.get("/schema/openapi.json")).json()
    found = v1_operations(document)
    assert len(found) >= 25
    return found


@pytest.fixture
async def fuzz(api_url: str, tenants: list[Tenant]) -> RawFuzz:
    return RawFuzz(api_url, tenants)


async def assert_still_serving(base_url: str, tenant: Tenant) -> None:
    async with httpx.AsyncClient(base_url=base_url, auth=tenant.auth, timeout=30) as http:
        assert (await http.get("/healthz")).status_code == 200
        listed = await http.get("/v1/Messages/Operations")
        assert listed.status_code == 200, listed.text


# The tests ----------------------------------------------------------------------------------


async def test_bodies_that_are_not_json_documents(
    fuzz: RawFuzz, operations: list[Operation]
) -> None:
    """Every body case on every route that takes a body; undecodable ones are 400 at `$`."""
    cases = body_cases(random.Random(SEED))
    for operation in [o for o in operations if o.method in ("POST", "PATCH")]:
        for case in cases:
            headers = [fuzz.authorization()]
            if case.content_type is not None:
                headers.append((b"Content-Type", case.content_type))
            what = f"{operation.method} {operation.path} [{case.name}]"
            request = raw_request(operation.method, operation.target(), headers, case.body)
            answer = await fuzz.send(what, request)
            if operation.has_body and case.undecodable and case.content_type == JSON:
                fuzz.expect(what, answer, 400, "$")
    fuzz.assert_clean()
    await assert_still_serving(fuzz.base_url, fuzz.tenants[0])


async def test_query_strings(fuzz: RawFuzz, operations: list[Operation]) -> None:
    """Broken percent-encoding, odd values, repeated and unknown parameters on every route."""
    rng = random.Random(SEED)
    for operation in operations:
        names = list(operation.query_names) + JUNK_NAMES
        queries = [b"&&&==&", b"?", b"=" * 10, b"&".join([b"pageSize=1"] * 500)]
        for _ in range(12):
            pair = rng.choice(names) + b"=" + rng.choice(QUERY_VALUES)
            repeats = min(rng.choice([1, 1, 2, 50]), max(1, HEAD_BUDGET // len(pair)))
            queries.append(b"&".join([pair] * repeats))
        for query in queries:
            headers = [fuzz.authorization(), (b"Content-Type", JSON)]
            target = operation.target() + b"?" + query
            body = b"{}" if operation.has_body else b""
            what = f"{operation.method} {operation.path}?{query[:80]!r}"
            await fuzz.send(what, raw_request(operation.method, target, headers, body))
    # Longer than the HTTP server may buffer at once: it may refuse the request line itself.
    huge = b"&".join([b"address=" + b"x" * 1_000] * 60)
    request = raw_request("GET", b"/v1/Suppressions?" + huge, [fuzz.authorization()])
    await fuzz.send("GET /v1/Suppressions?<60 KB>", request, server_may_refuse=True)
    fuzz.assert_clean()
    await assert_still_serving(fuzz.base_url, fuzz.tenants[0])


async def test_path_parameters(fuzz: RawFuzz, operations: list[Operation]) -> None:
    for operation in [o for o in operations if o.has_path_parameters]:
        for value in PATH_VALUES:
            headers = [fuzz.authorization(), (b"Content-Type", JSON)]
            body = b"{}" if operation.has_body else b""
            target = operation.target(value)
            what = f"{operation.method} {target[:100]!r}"
            await fuzz.send(what, raw_request(operation.method, target, headers, body))
    fuzz.assert_clean()
    await assert_still_serving(fuzz.base_url, fuzz.tenants[0])


async def test_headers(fuzz: RawFuzz, operations: list[Operation]) -> None:
    """Credentials that cannot be decoded are a 401; other odd headers are 4xx at worst."""
    rng = random.Random(SEED)
    send = next(o for o in operations if (o.method, o.path) == ("POST", "/v1/Messages"))
    for operation in [send, *rng.sample(operations, 6)]:
        body = b"{}" if operation.has_body else b""
        for value in BAD_AUTHORIZATION:
            what = f"{operation.method} {operation.path} Authorization: {value[:60]!r}"
            headers = [(b"Authorization", value), (b"Content-Type", JSON)]
            answer = await fuzz.send(
                what, raw_request(operation.method, operation.target(), headers, body)
            )
            fuzz.expect(what, answer, 401, None)
    odd_headers: list[tuple[str, str, list[tuple[bytes, bytes]], bytes]] = [
        *(
            ("POST", "/v1/Messages", [(b"Idempotency-Key", key)], b"{}")
            for key in (b"\xff\xfe", b"x" * 300, b"", b" ", b"%00")
        ),
        *(
            ("GET", "/v1/Messages/Operations/comms_none/Events", [(b"Last-Event-ID", last)], b"")
            for last in (b"\xb2", b"\xd9\xa3", b"-1", b"9" * 30, b"abc", b"", b"1.5")
        ),
        *(
            ("GET", "/v1/Messages", [(b"Accept", accept)], b"")
            for accept in (b"\xff", b"*/*;q=abc", b"text/xml", b",,,")
        ),
        ("GET", "/v1/Messages", [(b"X-Junk", b"x" * 8_000)], b""),
        ("GET", "/v1/Messages", [(b"Content-Type", b"application/json")], b"[[[[["),
        ("DELETE", "/v1/Senders/comms_none", [(b"Content-Type", b"application/json")], b"\xff"),
    ]
    for method, path, extra, body in odd_headers:
        headers = [fuzz.authorization(), (b"Content-Type", JSON), *extra]
        what = f"{method} {path} {extra[0][0]!r}: {extra[0][1][:40]!r}"
        await fuzz.send(what, raw_request(method, path.encode(), headers, body))
    # A Content-Length over the limit is refused before any of the body is read.
    announced = raw_request(
        "POST", b"/v1/Messages", [fuzz.authorization()], b"{}", content_length=1 << 30
    )
    answer = await fuzz.send("POST /v1/Messages, Content-Length 1 GiB", announced)
    assert answer is not None
    assert answer.status == 413
    fuzz.assert_clean()
    await assert_still_serving(fuzz.base_url, fuzz.tenants[0])


async def test_bytes_that_are_not_http(fuzz: RawFuzz) -> None:
    """Invalid request lines and framing: the HTTP server may refuse them before the app (a
    plain 400); whoever answers, it is a 4xx."""
    name, value = fuzz.authorization()
    auth = name + b": " + value + b"\r\n"
    # (request line, header lines, body); each request asks the server to close after it.
    requests = [
        (b"GET /v1/Messages/\xff\xfe HTTP/1.1", auth, b""),
        (b"GET /v1/Messages?operationId=\xff\xfe HTTP/1.1", auth, b""),
        (b"GET /v1/Messages?pageToken=\xc3\xa9 HTTP/1.1", auth, b""),
        (b"GET /v1/Messages HTTP/1.1", b"X-Nul: a\x00b\r\n", b""),
        (b"GET /v1/Messages HTTP/1.1", b"no colon here\r\n", b""),
        (b"GET /v1/Messages HTTP/1.1", b"X-Space : y\r\n", b""),
        (b"GET /v1/Messages HTTP/1.1", b"X-Fold: a\r\n b\r\n", b""),
        (b"POST /v1/Messages HTTP/1.1", b"Content-Length: abc\r\n", b"{}"),
        (b"POST /v1/Messages HTTP/1.1", b"Content-Length: -1\r\n", b"{}"),
        (b"POST /v1/Messages HTTP/1.1", b"Content-Length: 2\r\nContent-Length: 3\r\n", b"{}"),
        (b"POST /v1/Messages HTTP/1.1", b"Transfer-Encoding: chunked\r\n", b"zz\r\n{}"),
        (b"POST /v1/Messages HTTP/1.1", b"Transfer-Encoding: gzip\r\n", b"{}"),
        (b"GARBAGE", b"", b""),
        (b"GET / HTTP/9.9", b"", b""),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32), b"", b""),  # TLS hello
    ]
    for line, headers, body in requests:
        request = line + b"\r\nHost: x\r\nConnection: close\r\n" + headers + b"\r\n" + body
        answer = await fuzz.send(repr(request[:60]), request, server_may_refuse=True)
        if answer is not None and not 400 <= answer.status < 500:
            fuzz.failures.append(f"{request[:60]!r}: {answer.status}, not a 4xx")
    fuzz.assert_clean()
    await assert_still_serving(fuzz.base_url, fuzz.tenants[0])


def signed(
    settings: Settings, path: str, params: list[tuple[str, str]], query: str = ""
) -> list[tuple[bytes, bytes]]:
    """Form headers with the X-Twilio-Signature the provider would send for these params."""
    url = settings.callbacks_url + path + (f"?{query}" if query else "")
    signature = compute_signature(settings.provider_auth_token, url, params)
    return [(b"Content-Type", FORM), (b"X-Twilio-Signature", signature.encode())]


SIGNED_FORMS: list[list[tuple[str, str]]] = [
    [("MessageStatus", "delivered"), ("MessageSid", "SM\x00")],
    [("MessageStatus", "delivered\x00"), ("MessageSid", "SMfuzz")],
    [("MessageStatus", "failed"), ("MessageSid", "SMfuzz"), ("ErrorCode", "99999999999999999")],
    [("MessageStatus", "failed"), ("MessageSid", "SMfuzz"), ("ErrorCode", "-99999999999")],
    [("MessageStatus", "failed"), ("MessageSid", "SMfuzz"), ("ErrorCode", "٣٠٠٠٣")],
    [("MessageStatus", "failed"), ("MessageSid", "SMfuzz"), ("ErrorCode", "1" * 5_000)],
    [("MessageStatus", "failed"), ("MessageSid", "SMfuzz"), ("ErrorMessage", "\x00")],
    [("MessageStatus", "DELİVERED"), ("MessageSid", "SM" + "x" * 100_000)],
    [("MessageStatus", "sent"), ("MessageStatus", "failed"), ("MessageSid", "SMfuzz")],
    [("EventType", "onDeliveryUpdated"), ("Status", "delivered"), ("MessageSid", "IM\x00")],
    [
        ("EventType", "onDeliveryUpdated"),
        ("Status", "failed"),
        ("MessageSid", "IMfuzz"),
        ("ErrorCode", "4294967296"),
    ],
    [("EventType", "\x00"), ("Status", "\x00")],
    [("From", "+1555\x00"), ("To", "+1555"), ("Body", "STOP"), ("MessageSid", "SMfuzz")],
    [("From", "whatsapp:"), ("To", "+1\x00"), ("Body", "STOP"), ("MessageSid", "SMfuzz")],
    [("From", "x" * 10_000), ("To", "y" * 10_000), ("Body", "hello"), ("MessageSid", "SM\x00")],
    [("\x00", "\x00")],
    [("From", "\ufffd"), ("To", "\ufffd"), ("Body", "\ufffd"), ("MessageSid", "\ufffd")],
]


async def test_provider_callbacks(fuzz: RawFuzz, settings: Settings) -> None:
    """Unsigned garbage is refused; signed forms with odd values reach the logic and are never
    a 5xx. (No keyword goes to a number in use: a STOP would change other tests' lists.)"""
    cases = body_cases(random.Random(SEED))
    for path in CALLBACK_PATHS:
        for case in cases:
            if len(case.body) > 300_000:
                continue  # refused on the signature before it is read: nothing to learn
            headers = [] if case.content_type is None else [(b"Content-Type", case.content_type)]
            await fuzz.send(
                f"{path} [{case.name}]", raw_request("POST", path.encode(), headers, case.body)
            )
        for params in SIGNED_FORMS:
            body = urllib.parse.urlencode(params).encode()
            what = f"{path} signed {str(params)[:100]}"
            await fuzz.send(
                what, raw_request("POST", path.encode(), signed(settings, path, params), body)
            )
    status = CALLBACK_PATHS[0]
    for attempt in ("%00", "%ff", "0" * 32, "-", "x" * 5_000):
        params = [("MessageStatus", "delivered"), ("MessageSid", "SMfuzz")]
        query = f"attemptId={attempt}"
        target = f"{status}?{query}".encode()
        body = urllib.parse.urlencode(params).encode()
        headers = signed(settings, status, params, query)
        await fuzz.send(f"{status}?{query[:40]}", raw_request("POST", target, headers, body))
    fuzz.assert_clean()
    await assert_still_serving(fuzz.base_url, fuzz.tenants[0])


@pytest.fixture
async def impatient_api_url(settings: Settings, clock: TestClock) -> AsyncIterator[str]:
    """An API of this test's own that waits a moment, not a minute, for a request's body."""
    impatient = msgspec.structs.replace(settings, body_read_timeout_s=0.2)
    async with serve_asgi(create_app(impatient, clock=clock)) as url:
        yield url


async def test_a_body_shorter_than_its_content_length(
    impatient_api_url: str, tenants: list[Tenant]
) -> None:
    """The client keeps the connection open but never sends the rest: 408, not a hang."""
    fuzz = RawFuzz(impatient_api_url, tenants)
    for method, path, content_type in [
        ("POST", "/v1/Messages", JSON),
        ("POST", "/v1/Messages/Search", JSON),
        ("POST", "/v1/Suppressions", b"text/plain"),
        ("POST", "/callbacks/twilio/messages/status", FORM),
    ]:
        headers = [fuzz.authorization(), (b"Content-Type", content_type)]
        request = raw_request(method, path.encode(), headers, b'{"to": [', content_length=1_000)
        what = f"{method} {path}, 8 of 1000 bytes"
        fuzz.expect(what, await fuzz.send(what, request), 408, "$")
    fuzz.assert_clean()
    await assert_still_serving(impatient_api_url, tenants[0])
