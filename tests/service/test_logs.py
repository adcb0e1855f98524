"""Logs: JSON on every line (ours and libraries'), the request id on every line of a request,
one access line per request, phone numbers masked and credentials never written."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
import structlog

from service import logs, request_ids
from service.settings import Settings
from tests.support.tenants import Tenant


class Captured:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self) -> list[dict[str, Any]]:
        """Every line written so far, each of which must be a JSON object."""
        parsed = []
        for line in self.stream.getvalue().splitlines():
            value = json.loads(line)  # fails the test on any line that is not JSON
            assert isinstance(value, dict), line
            parsed.append(value)
        return parsed

    def text(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def json_logs(settings: Settings) -> Iterator[Captured]:
    """This process's logs as JSON at INFO into a buffer; the test settings' again after."""
    captured = Captured()
    logs.configure(
        msgspec.structs.replace(settings, log_format="json", log_level="INFO"),
        stream=captured.stream,
    )
    try:
        yield captured
    finally:
        logs.configure(settings)


def test_library_records_are_json_like_ours(json_logs: Captured) -> None:
    structlog.get_logger("comms.test").info("ours", count=3)
    logging.getLogger("asyncpg.pool").warning("connection %s lost", "#7")
    logging.getLogger("granian").info("Started worker-1")
    lines = json_logs.lines()
    assert [(line["event"], line["logger"], line["level"]) for line in lines] == [
        ("ours", "comms.test", "info"),
        ("connection #7 lost", "asyncpg.pool", "warning"),
        ("Started worker-1", "granian", "info"),
    ]
    assert lines[0]["count"] == 3
    assert all("timestamp" in line for line in lines)


def test_lines_within_a_request_id_carry_it(json_logs: Captured) -> None:
    with request_ids.bound("req-abc.1"):
        structlog.get_logger("comms.test").info("inside")
        logging.getLogger("arq.jobs").warning("library inside")
    structlog.get_logger("comms.test").info("outside")
    assert [line.get("request_id") for line in json_logs.lines()] == [
        "req-abc.1",
        "req-abc.1",
        None,
    ]


def refuse(text: str) -> None:
    raise ValueError(text)


def test_phone_numbers_are_masked_and_credentials_never_written(json_logs: Captured) -> None:
    log = structlog.get_logger("comms.test")
    log.info(
        "call",
        to="+15551235310",
        whatsapp="whatsapp:+447700900123",
        form="To=%2B15551235310&From=%2B15017122661&Body=hi",
        auth_token="sandbox-auth-token",
        headers={"Authorization": "Basic QUNhYWFhYWE6c2VjcmV0LXRva2Vu", "Accept": "*/*"},
        api_key_secret="s3cr3t-value",
        endpoint={"url": "https://hooks.test/a", "secret": "whsec_AAAAbbbbCCCC"},
        database="postgresql://comms:hunter2@db.internal:5432/comms",
    )
    logging.getLogger("httpx").warning(
        "request with {'authorization': 'Bearer abcdefghijklmnop'} to +15551235310 failed"
    )
    try:
        refuse("the provider refused +15551235310 with whsec_ZZZZyyyy")
    except ValueError:
        log.exception("send failed")
    text = json_logs.text()
    for secret in (
        "15551235310",
        "447700900123",
        "15017122661",
        "sandbox-auth-token",
        "QUNhYWFhYWE6c2VjcmV0LXRva2Vu",
        "s3cr3t-value",
        "AAAAbbbbCCCC",
        "ZZZZyyyy",
        "hunter2",
        "abcdefghijklmnop",
    ):
        assert secret not in text, secret
    call, library, failure = json_logs.lines()
    assert call["to"] == "+1555***5310"
    assert call["whatsapp"] == "whatsapp:+4477***0123"
    assert call["form"] == "To=%2B1555***5310&From=%2B1501***2661&Body=hi"
    assert call["auth_token"] == logs.REDACTED
    assert call["headers"] == {"Authorization": logs.REDACTED, "Accept": "*/*"}
    assert call["endpoint"] == {"url": "https://hooks.test/a", "secret": logs.REDACTED}
    assert call["database"] == f"postgresql://comms:{logs.REDACTED}@db.internal:5432/comms"
    assert "Bearer [redacted]" in library["event"]
    assert "+1555***5310" in library["event"]
    assert "ValueError: the provider refused +1555***5310" in failure["exception"]


def test_short_numbers_keep_less() -> None:
    assert logs.mask_phone_numbers("+33612345678") == "+3361***5678"
    assert logs.mask_phone_numbers("+4930123456") == "+49***56"
    assert logs.mask_phone_numbers("+12345678") == "+12***78"
    # Not phone numbers: ids, amounts, short codes.
    for kept in ("comms_message_01m8h0jzqsechs3yv6kh2qxj5m", "+1234567", "12345", "v1+15"):
        assert logs.mask_phone_numbers(kept) == kept


async def test_one_access_line_per_request_with_its_route_template(
    json_logs: Captured, client: httpx.AsyncClient, anonymous: httpx.AsyncClient, tenant: Tenant
) -> None:
    answer = await client.get(
        "/v1/Messages/comms_message_01m8h0jzqsechs3yv6kh2qxj5m",
        headers={"X-Request-Id": "access-1"},
    )
    assert answer.status_code == 404
    await client.get("/v1/Senders", headers={"X-Request-Id": "access-2"})
    await anonymous.get("/no/such/place/+15551235310", headers={"X-Request-Id": "access-3"})

    access = [line for line in json_logs.lines() if line["logger"] == "comms.access"]
    by_id = {line["request_id"]: line for line in access}
    assert [line["request_id"] for line in access] == ["access-1", "access-2", "access-3"]
    assert by_id["access-1"]["route"] == "/v1/Messages/{messageId}"
    assert by_id["access-1"]["status"] == 404
    assert by_id["access-1"]["account_sid"] == tenant.account_sid
    assert by_id["access-2"]["method"] == "GET"
    assert by_id["access-2"]["route"] == "/v1/Senders"
    assert by_id["access-2"]["status"] == 200
    assert isinstance(by_id["access-2"]["duration_ms"], float)
    # No route matched: no template, and the raw path is not written.
    assert by_id["access-3"]["route"] is None
    assert by_id["access-3"]["status"] == 404
    assert by_id["access-3"]["account_sid"] is None
    assert "no/such/place" not in json_logs.text()
