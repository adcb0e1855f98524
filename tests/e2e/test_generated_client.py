"""The Python client generated from openapi/openapi.json (openapi-python-client), as a product
team uses it: tests/e2e/clients/python/flow.py sends, follows the operation to COMPLETED, pages
through its messages, handles a 404 and replays an idempotent send. The client is generated
at test time, offline; it and the flow are type-checked with mypy --strict; the flow runs
against the real stack (the API, a worker process, the sandbox).
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from service.settings import Settings
from tests.support.clients import CLIENTS, DOCUMENT, offline, run, run_flow
from tests.support.tenants import Tenant

FLOW = CLIENTS / "python" / "flow.py"
PACKAGE = "comms_client"
# Strict, but for one line of the generator's own template (comms_client/client.py): its
# `__exit__(self, *args: object)` hands `object`s on to httpx's typed `__exit__`. Nothing of
# the document is in that file.
MYPY_CONFIG = """\
[mypy]
strict = True

[mypy-comms_client.client]
disable_error_code = arg-type
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the generated package `comms_client`."""
    root = tmp_path_factory.mktemp("generated")
    # The profile import's NDJSON and CSV bodies are bytes to the generator.
    config = root / "config.json"
    config.write_text(
        '{"content_type_overrides": {"application/x-ndjson": "application/octet-stream", '
        '"text/csv": "application/octet-stream"}}'
    )
    env = offline()
    # The generator formats its output with ruff, found on PATH beside this interpreter.
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    output = run(
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
            "--config",
            str(config),
        ],
        cwd=root,
        env=env,
        timeout_s=120,
    )
    # The generator warns (and skips) what it cannot understand; our document has none of that.
    assert "Warning" not in output, output
    assert "Unable" not in output, output
    return root


@pytest.mark.timeout(300)
def test_the_client_and_the_flow_type_check_strictly(generated: Path) -> None:
    (generated / "mypy.ini").write_text(MYPY_CONFIG)
    output = run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(generated / "mypy.ini"),
            "--cache-dir",
            str(generated / ".mypy_cache"),
            str(FLOW),
            PACKAGE,
        ],
        cwd=generated,
        env={**offline(), "MYPYPATH": str(generated)},
        timeout_s=280,
    )
    assert "Success: no issues found" in output, output


@pytest.mark.own_stack
@pytest.mark.timeout(180)
async def test_the_flow_runs_against_the_stack(
    generated: Path,
    settings: Settings,
    tenant: Tenant,
    api_url: str,
    sandbox: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    seen = await run_flow(
        [sys.executable, str(FLOW)],
        cwd=generated,
        env={**offline(), "PYTHONPATH": str(generated)},
        settings=settings,
        tenant=tenant,
        api_url=api_url,
        log=tmp_path / "worker.log",
    )
    assert seen["operationId"].startswith("comms_operation_")
    assert (seen["total"], seen["messages"], seen["pages"]) == (3, 3, 2)
    assert set(seen["statuses"]) <= {"QUEUED", "SENT", "DELIVERED"}
    assert seen["text"] in {f"Hello {n}, welcome aboard!" for n in ("Ada", "Grace", "Alan")}
    assert seen["notFound"] == [404, 20404]
    assert seen["replayed"] is True
    assert seen["sameOperation"] is True
