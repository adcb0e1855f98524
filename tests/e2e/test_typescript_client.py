"""The TypeScript client generated from openapi/openapi.json (openapi-typescript types and
openapi-fetch), as a product team uses it: tests/e2e/clients/typescript/flow.ts sends, follows
the operation to COMPLETED, pages through its messages, handles a 404 and replays an
idempotent send, with no casts. The npm packages are pinned by its package-lock.json
(installed with `npm ci` when node_modules is missing); the types are generated at test time,
offline; `tsc --strict` compiles the flow with them; it runs against the real stack (the API,
a worker process, the sandbox).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import httpx
import pytest

from service.settings import Settings
from tests.support.clients import CLIENTS, DOCUMENT, offline, run, run_flow
from tests.support.tenants import Tenant

PROJECT = CLIENTS / "typescript"


def node_tool(package: str, script: str) -> list[str]:
    return ["node", str(PROJECT / "node_modules" / package / script)]


@pytest.fixture(scope="module")
def compiled() -> Path:
    """The flow compiled (dist/flow.js) against types generated from the committed document."""
    if shutil.which("node") is None:
        pytest.fail("Node.js (20 or later) is needed for the TypeScript client's test")
    version = run(["node", "--version"], cwd=PROJECT, env=dict(os.environ), timeout_s=30)
    assert int(version.strip().lstrip("v").split(".")[0]) >= 20, version
    if not (PROJECT / "node_modules").is_dir():
        # The one step that needs the network: the npm registry, exactly as the lock file says.
        run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=PROJECT,
            env=dict(os.environ),
            timeout_s=600,
        )
    generated = PROJECT / "generated" / "schema.d.ts"
    run(
        [
            *node_tool("openapi-typescript", "bin/cli.js"),
            str(DOCUMENT),
            "--output",
            str(generated),
        ],
        cwd=PROJECT,
        env=offline(),
        timeout_s=120,
    )
    run(
        [*node_tool("typescript", "bin/tsc"), "--project", "tsconfig.json"],
        cwd=PROJECT,
        env=offline(),
        timeout_s=280,
    )
    return PROJECT / "dist" / "flow.js"


@pytest.mark.timeout(600)
def test_the_flow_compiles_with_tsc_strict(compiled: Path) -> None:
    assert compiled.is_file()
    config = (PROJECT / "tsconfig.json").read_text()
    assert '"strict": true' in config
    code = [
        line.split("//", 1)[0]
        for line in (PROJECT / "flow.ts").read_text().splitlines()
        if not line.lstrip().startswith(("//", "*", "/*", "import "))
    ]
    # Written as a product team would: no casts, no non-null assertions, no `any`.
    for line in code:
        assert not re.search(r"\bas\s+(?!const\b)[A-Za-z{(]", line), line
        assert not re.search(r"[\w)\]]!(?=[.)\],;])", line), line
        assert not re.search(r"\bany\b", line), line


@pytest.mark.own_stack
@pytest.mark.timeout(600)
async def test_the_flow_runs_against_the_stack(
    compiled: Path,
    settings: Settings,
    tenant: Tenant,
    api_url: str,
    sandbox: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    seen = await run_flow(
        ["node", str(compiled)],
        cwd=PROJECT,
        env=offline(),
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
