"""The committed OpenAPI document works for a generated client (openapi-python-client).

The client is generated at test time, offline, from openapi/openapi.json, imported, and used
against the running API: send, poll the operation to COMPLETED, page through its messages.
"""

from __future__ import annotations

import base64
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from service.settings import Settings
from tests.support.servers import ROOT
from tests.support.tenants import Tenant
from tests.support.workers import run_worker

DOCUMENT = ROOT / "openapi" / "openapi.json"
PACKAGE = "comms_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated package, importable as `comms_client` while this module's tests run."""
    root = tmp_path_factory.mktemp("generated")
    # Offline: any attempt to reach the network through a proxy-aware client fails.
    env = {**os.environ, "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    # The generator formats its output with ruff, found on PATH beside this interpreter.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(DOCUMENT),
            "--output-path",
            str(root / PACKAGE),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # The generator warns (and skips) what it cannot understand; our document has none of that.
    assert "Warning" not in output, output
    assert "Unable" not in output, output
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


@pytest.fixture
def api(generated: ModuleType, api_url: str, tenant: Tenant) -> Any:
    """The generated AuthenticatedClient with the tenant's Basic credentials."""
    token = base64.b64encode(f"{tenant.account_sid}:{tenant.auth_token}".encode()).decode()
    return generated.AuthenticatedClient(
        base_url=api_url, token=token, prefix="Basic", raise_on_unexpected_status=True
    )


@pytest.mark.own_stack
async def test_send_poll_and_page_with_the_generated_client(
    api: Any, sandbox: httpx.AsyncClient, settings: Settings, redis: object
) -> None:
    send_messages = module("api.messages.send_messages")
    fetch_operation = module("api.operations.fetch_operation")
    list_messages = module("api.messages.list_messages")
    fetch_message = module("api.messages.fetch_message")
    models = module("models")

    body = models.SendMessagesRequest.from_dict(
        {
            "to": [
                {"address": "+15558675310", "channel": "PHONE", "variables": {"name": "Ada"}},
                {"address": "+15558675311", "channel": "PHONE", "variables": {"name": "Bo"}},
                {"address": "+15558675312", "channel": "PHONE"},
            ],
            "content": {"text": "Hello {{ name | default: 'there' }}"},
            "from": {"address": "+15017122661", "channel": "SMS"},
            "tags": {"campaign": "generated"},
        }
    )
    async with api as client:
        preview = await send_messages.asyncio_detailed(client=client, body=body, dry_run=True)
        assert preview.status_code == 200
        assert isinstance(preview.parsed, models.DryRunResult)
        assert [r.text for r in preview.parsed.recipients] == [
            "Hello Ada",
            "Hello Bo",
            "Hello there",
        ]
        assert preview.parsed.recipients[0].encoding == models.TextEncoding.GSM_7

        sent = await send_messages.asyncio_detailed(client=client, body=body)
        assert sent.status_code == 202
        accepted = sent.parsed
        assert isinstance(accepted, models.SendMessagesAccepted)
        assert sent.headers["operation-id"] == accepted.operation_id

        operation = await fetch_operation.asyncio(accepted.operation_id, client=client)
        assert isinstance(operation, models.OperationRead)
        assert operation.status == models.OperationReadStatus.PROCESSING

        await run_worker(settings)
        await sandbox.post("/sandbox/drain")

        operation = await fetch_operation.asyncio(accepted.operation_id, client=client)
        assert operation.status == models.OperationReadStatus.COMPLETED
        assert (operation.stats.total, operation.stats.delivered) == (3, 3)
        assert operation.tags.to_dict() == {"campaign": "generated"}

        seen: list[str] = []
        token: str | None = None
        pages = 0
        while True:
            page = await list_messages.asyncio(
                client=client,
                operation_id=accepted.operation_id,
                page_size=1,
                **({"page_token": token} if token else {}),
            )
            assert isinstance(page, models.MessagesPage)
            pages += 1
            assert len(page.messages) <= 1
            seen.extend(m.id for m in page.messages)
            token = page.pagination.next_
            if token is None:
                break
            assert pages < 10
        assert len(seen) == len(set(seen)) == 3

        texts = []
        for message_id in seen:
            message = await fetch_message.asyncio(message_id, client=client)
            assert isinstance(message, models.MessageDetail)
            assert message.status == models.MessageDetailStatus.DELIVERED
            assert message.operation_id == accepted.operation_id
            [attempt] = message.attempts
            assert attempt.id.startswith("SM")
            assert attempt.segments == 1
            texts.append(message.content.text)
        assert sorted(texts) == ["Hello Ada", "Hello Bo", "Hello there"]


async def test_errors_parse_as_the_error_body(api: Any, redis: object) -> None:
    send_messages = module("api.messages.send_messages")
    fetch_message = module("api.messages.fetch_message")
    models = module("models")
    body = models.SendMessagesRequest.from_dict(
        {
            "to": [{"address": "12345", "channel": "PHONE"}],
            "content": {"text": "hi"},
            "from": {"address": "+15017122661", "channel": "SMS"},
        }
    )
    async with api as client:
        refused = await send_messages.asyncio_detailed(client=client, body=body)
        assert refused.status_code == 400
        assert isinstance(refused.parsed, models.ErrorBody)
        [error] = refused.parsed.errors
        assert (error.code, error.context) == (21211, "$.to[0].address")

        missing = await fetch_message.asyncio_detailed(
            "comms_message_01m8h0jzqsechs3yv6kh2qxj5n", client=client
        )
        assert missing.status_code == 404
        assert isinstance(missing.parsed, models.ErrorBody)
        assert missing.parsed.errors[0].code == 20404
